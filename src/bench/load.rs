//! The load generator every call benchmark shares: workers run side by side,
//! each awaiting one operation at a time, and every operation is timed into
//! one histogram.

use reqwest::header::CONTENT_TYPE;
use std::time::Instant;

use bytes::Bytes;
use futures::future::try_join_all;
use hdrhistogram::Histogram;

use super::progress;
use super::report::Measurement;

/// Runs about `calls` operations spread over `workers` (one per concurrent
/// caller), after a warm-up of a tenth as many, and measures them.
pub async fn measure<W>(label: &str, calls: usize, mut workers: Vec<W>) -> anyhow::Result<Measurement>
where
    W: AsyncFnMut() -> anyhow::Result<()>,
{
    progress::stage(label);
    let concurrency = workers.len().max(1);
    let per_worker = calls.div_ceil(concurrency).max(1);
    let warmup = (per_worker / 10).max(2);
    try_join_all(workers.iter_mut().map(|operation| async move {
        for _ in 0..warmup {
            operation().await?;
        }
        anyhow::Ok(())
    }))
    .await?;

    let started = Instant::now();
    let histograms = try_join_all(workers.iter_mut().map(|operation| async move {
        let mut histogram = new_histogram();
        for _ in 0..per_worker {
            let begun = Instant::now();
            operation().await?;
            histogram.record(begun.elapsed().as_nanos() as u64)?;
        }
        anyhow::Ok(histogram)
    }))
    .await?;
    let elapsed = started.elapsed();
    Ok(Measurement::from_histogram(
        label,
        concurrency,
        per_worker * concurrency,
        elapsed,
        &merged(histograms)?,
    ))
}

/// [`measure`] for `concurrency` callers POSTing `body` to `url`, each a
/// task of its own, so that a client runtime with several threads spreads
/// them (one thread of callers can be the limit at high concurrency).
pub async fn measure_posts(
    label: &str,
    calls: usize,
    concurrency: usize,
    http: &reqwest::Client,
    url: &str,
    body: Bytes,
) -> anyhow::Result<Measurement> {
    progress::stage(label);
    let concurrency = concurrency.max(1);
    let per_worker = calls.div_ceil(concurrency).max(1);
    let warmup = (per_worker / 10).max(2);
    let caller = |rounds: usize, timed: bool| {
        let (http, url, body) = (http.clone(), url.to_owned(), body.clone());
        tokio::spawn(async move {
            let mut histogram = new_histogram();
            for _ in 0..rounds {
                let begun = Instant::now();
                post(&http, &url, &body).await?;
                if timed {
                    histogram.record(begun.elapsed().as_nanos() as u64)?;
                }
            }
            anyhow::Ok(histogram)
        })
    };
    let warmups = (0..concurrency).map(|_| caller(warmup, false));
    try_join_all(warmups).await?.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    let timed = (0..concurrency).map(|_| caller(per_worker, true));
    let histograms = try_join_all(timed).await?.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let elapsed = started.elapsed();
    Ok(Measurement::from_histogram(
        label,
        concurrency,
        per_worker * concurrency,
        elapsed,
        &merged(histograms)?,
    ))
}

/// A worker that POSTs `body` to `url` and checks the Vox envelope says
/// `success`.
pub fn poster(http: &reqwest::Client, url: String, body: Bytes) -> impl AsyncFnMut() -> anyhow::Result<()> {
    let http = http.clone();
    async move || post(&http, &url, &body).await
}

/// POSTs `body` to `url` and checks the Vox envelope says `success`.
async fn post(http: &reqwest::Client, url: &str, body: &Bytes) -> anyhow::Result<()> {
    let response = http.post(url).header(CONTENT_TYPE, "application/json").body(body.clone()).send().await?;
    let answer = response.bytes().await?;
    // `"success"` comes after the game's `type` and `id` when it answered.
    const SUCCESS: &[u8] = br#""success":true"#;
    let head = &answer[..answer.len().min(128)];
    anyhow::ensure!(
        head.windows(SUCCESS.len()).any(|window| window == SUCCESS),
        "call failed: {}",
        String::from_utf8_lossy(&answer[..answer.len().min(300)])
    );
    Ok(())
}

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

/// The workers' histograms as one.
pub fn merged(histograms: impl IntoIterator<Item = Histogram<u64>>) -> anyhow::Result<Histogram<u64>> {
    let mut total = new_histogram();
    for histogram in histograms {
        total.add(histogram)?;
    }
    Ok(total)
}
