struct UserService;

impl UserService {
    #[tidings_macros::domain_event(aggregate_type = "user", event_type = "user_updated", aggregate_id_field = usr_id)]
    async fn update_user(&self, user_id: String, email: String) -> Result<(), String> {
        let _ = (user_id, email);
        Ok(())
    }
}

fn main() {}
