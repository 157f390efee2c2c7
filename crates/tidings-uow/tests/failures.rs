//! What the unit of work does when the backend fails, with the backend mocked.

use tidings_core::{Envelope, Error, InboxClaim, mock::MockBackend};
use tidings_uow::{UnitOfWork, UnitOfWorkError};

fn incoming() -> Envelope {
    Envelope::new(
        "orders",
        "k",
        "order.placed",
        "application/json",
        b"{}".to_vec(),
    )
}

#[tokio::test]
async fn a_failed_commit_is_reported_and_wakes_no_relay() {
    let mut backend = MockBackend::new();
    backend
        .expect_begin()
        .returning(|| Box::pin(async { Ok(()) }));
    backend
        .expect_stage()
        .times(1)
        .returning(|_, _| Box::pin(async { Ok(()) }));
    backend
        .expect_commit()
        .times(1)
        .returning(|_| Box::pin(async { Err(Error::unavailable("disk full")) }));
    backend.expect_after_commit().never();
    let uow = UnitOfWork::new(backend);
    let result = uow
        .run(async |work| {
            work.stage_envelope(incoming())?;
            Ok::<_, Error>(())
        })
        .await;
    assert!(
        matches!(result, Err(UnitOfWorkError::Tidings(Error::Unavailable(_)))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_failed_inbox_claim_rolls_back_without_running_the_handler() {
    let mut backend = MockBackend::new();
    backend
        .expect_begin()
        .returning(|| Box::pin(async { Ok(()) }));
    backend
        .expect_claim_message()
        .returning(|_, _, _, _| Box::pin(async { Err(Error::unavailable("connection reset")) }));
    backend
        .expect_rollback()
        .times(1)
        .returning(|_| Box::pin(async { Ok(()) }));
    backend.expect_commit().never();
    let uow = UnitOfWork::new(backend);
    let mut ran = false;
    let result = uow
        .handle(&incoming(), async |_| {
            ran = true;
            Ok::<_, Error>(())
        })
        .await;
    assert!(
        matches!(result, Err(UnitOfWorkError::Tidings(_))),
        "{result:?}"
    );
    assert!(!ran, "the handler ran although the claim failed");
}

#[tokio::test]
async fn a_duplicate_rolls_back_and_skips_the_handler() {
    let mut backend = MockBackend::new();
    backend
        .expect_begin()
        .returning(|| Box::pin(async { Ok(()) }));
    backend
        .expect_claim_message()
        .returning(|_, _, _, _| Box::pin(async { Ok(InboxClaim::Duplicate) }));
    backend
        .expect_rollback()
        .times(1)
        .returning(|_| Box::pin(async { Ok(()) }));
    backend.expect_stage().never();
    backend.expect_commit().never();
    let uow = UnitOfWork::new(backend);
    let result = uow
        .handle(&incoming(), async |_| -> Result<(), Error> {
            panic!("the handler must not run for a duplicate")
        })
        .await;
    assert!(
        matches!(result, Ok(tidings_uow::Handled::Duplicate)),
        "{result:?}"
    );
}
