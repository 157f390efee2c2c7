struct UserService;

impl UserService {
    #[tidings_macros::domain_event(aggregate_type = "user", event_type = "user_updated")]
    async fn update_user(&self, user_id: String) -> Result<String, String> {
        Ok(user_id)
    }
}

fn main() {}
