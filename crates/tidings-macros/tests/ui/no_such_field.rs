#[derive(tidings_macros::Message)]
#[tidings(aggregate = user)]
struct UserCreated {
    user_id: u64,
}

fn main() {}
