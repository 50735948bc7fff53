//! Waiting for many futures at once, compiled once (README "Size"). `futures_util`'s
//! `join_all` is a whole state machine per future type (with a `FuturesOrdered` behind it
//! above 30 futures), instantiated at every call site; here each future is boxed as a unit
//! future that stores its output in its own slot, and the one `join_all` over boxed unit
//! futures does the waiting for every caller. Same semantics: all run concurrently, and
//! the outputs come back in the order of the input.

use futures_util::future::LocalBoxFuture;
use std::cell::RefCell;
use std::future::Future;

pub async fn join_all<'a, F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: Future + 'a,
    F::Output: 'a,
{
    let futures: Vec<F> = futures.into_iter().collect();
    let slots: RefCell<Vec<Option<F::Output>>> = RefCell::new(futures.iter().map(|_| None).collect());
    let slots_ref = &slots;
    let units: Vec<LocalBoxFuture<'_, ()>> = futures
        .into_iter()
        .enumerate()
        .map(|(i, f)| -> LocalBoxFuture<'_, ()> {
            Box::pin(async move {
                let out = f.await;
                slots_ref.borrow_mut()[i] = Some(out);
            })
        })
        .collect();
    join_units(units).await;
    slots.into_inner().into_iter().flatten().collect()
}

/// Waits for boxed unit futures, all at once: the one wait [`join_all`] and every caller
/// whose futures return nothing share.
pub async fn join_units(units: Vec<LocalBoxFuture<'_, ()>>) {
    futures_util::future::join_all(units).await;
}

/// `ctx.wait_until(work)` with `work` boxed: the runtime's promise wrapper around
/// background work is compiled once, not once per future type (README "Size").
pub fn in_background(ctx: &worker::Context, work: impl Future<Output = ()> + 'static) {
    let work: LocalBoxFuture<'static, ()> = Box::pin(work);
    ctx.wait_until(work);
}
