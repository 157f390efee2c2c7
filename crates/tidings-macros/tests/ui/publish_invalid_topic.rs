struct AuthService;

impl AuthService {
    #[tidings_macros::publish_on_error(topic = "auth events", event_type = "login_failed", key_field = user_id)]
    async fn authenticate(&self, user_id: String) -> Result<bool, String> {
        Ok(!user_id.is_empty())
    }
}

fn main() {}
