struct UserService;

impl UserService {
    #[tidings_macros::audit_event(
        event_type = DataCreated,
        action = "create_user",
        resource_type = "user",
        include_args,
        sensitive(passwd)
    )]
    async fn create_user(&self, user_id: String, #[sensitive] password: String) -> Result<(), String> {
        let _ = (user_id, password);
        Ok(())
    }
}

fn main() {}
