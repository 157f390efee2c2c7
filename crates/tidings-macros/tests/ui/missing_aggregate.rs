#[derive(tidings_macros::Message)]
#[tidings(type = "user.created")]
struct UserCreated {
    user_id: u64,
}

fn main() {}
