#[derive(tidings_macros::Message)]
enum AccountEvent {
    #[tidings(aggregate = account)]
    Opened { account: String },
    Closed { id: String },
}

fn main() {}
