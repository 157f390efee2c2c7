struct AuthService;

impl AuthService {
    #[tidings_macros::publish_on_success(topic = "auth.events", event_type = "login_successful", key_field = user_id, retries = 3)]
    async fn authenticate(&self, user_id: String) -> Result<bool, String> {
        Ok(!user_id.is_empty())
    }
}

fn main() {}
