#[derive(tidings_macros::Message)]
#[tidings(aggregate = user_id, topic = "user events")]
struct UserCreated {
    user_id: u64,
}

fn main() {}
