struct AuthService;

impl AuthService {
    #[tidings_macros::publish_on_success(topic = "auth.events", event_type = "login_successful", key_field = user_id)]
    async fn authenticate(&self, user_id: String) -> bool {
        !user_id.is_empty()
    }
}

fn main() {}
