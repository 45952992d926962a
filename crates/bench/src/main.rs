//! `sage-bench [pipeline|logs|all]`: see the README's "Benchmarks".

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let suite = std::env::args().nth(1).unwrap_or_else(|| "all".to_owned());
    sage_bench::run(&suite).await
}
