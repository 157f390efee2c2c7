#[derive(tidings_macros::Message)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
