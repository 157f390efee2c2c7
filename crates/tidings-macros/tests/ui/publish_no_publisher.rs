#[tidings_macros::publish_on_error(topic = "jobs", event_type = "job_failed", key_field = job_id)]
async fn run_job(job_id: u64) -> Result<(), String> {
    Err(format!("job {job_id} failed"))
}

fn main() {}
