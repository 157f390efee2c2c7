struct Catalogue;

impl Catalogue {
    #[tidings_macros::publish_on_success(topic = "catalogue", event_type = "listed", key_field = shelf)]
    async fn list(&self, shelf: String) -> Result<impl Iterator<Item = u8>, String> {
        let _ = shelf;
        Ok(vec![1u8].into_iter())
    }
}

fn main() {}
