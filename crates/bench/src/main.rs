//! `sage-bench [pipeline|logs|reads|findings|all]`: see docs/benchmarks.md.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let suite = std::env::args().nth(1).unwrap_or_else(|| "all".to_owned());
    sage_bench::run(&suite).await
}
