struct Work<T>(T);
struct Ledger;

impl Ledger {
    #[tidings_macros::domain_event(aggregate_type = "account", event_type = "moved", aggregate_id_field = account)]
    async fn transfer(&self, from: &mut Work<u8>, to: &mut Work<u8>, account: String) -> Result<(), String> {
        let _ = (from, to, account);
        Ok(())
    }
}

fn main() {}
