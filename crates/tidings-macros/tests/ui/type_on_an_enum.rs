#[derive(tidings_macros::Message)]
#[tidings(type = "account", aggregate = account)]
enum AccountEvent {
    Opened { account: String },
}

fn main() {}
