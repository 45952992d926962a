//! Reading the Prometheus scrapes of the api and the workers.

/// The value of one series (`name{labels}` exactly as the text writes it) in a
/// Prometheus scrape; `None` when the scrape does not hold it.
pub fn metric(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

/// `GET /metrics` on 127.0.0.1:`port`.
pub async fn scrape(port: u16) -> String {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("the metrics endpoint answers");
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}
