#[derive(tidings_macros::Message)]
#[tidings(aggregate = user_id, topics = "users")]
struct UserCreated {
    user_id: u64,
}

fn main() {}
