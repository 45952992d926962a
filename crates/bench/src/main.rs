//! `sage-bench [pipeline|logs|reads|findings|history|scan|all]`: see docs/benchmarks.md.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [command, folder, execution] if command == sage_bench::stored::COMMAND => {
            sage_bench::stored::store(folder, execution).await
        }
        _ => sage_bench::run(args.first().map_or("all", String::as_str)).await,
    }
}
