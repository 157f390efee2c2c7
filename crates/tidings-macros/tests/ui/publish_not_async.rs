struct UserService;

impl UserService {
    #[tidings_macros::audit_event(event_type = DataCreated, action = "create_user", resource_type = "user")]
    fn create_user(&self, user_id: String) -> Result<String, String> {
        Ok(user_id)
    }
}

fn main() {}
