#[derive(tidings_macros::Message)]
#[tidings(aggregate = user_id, type = "a", type = "b")]
struct UserCreated {
    user_id: u64,
}

fn main() {}
