//! What every request handler can reach.

use std::sync::Arc;

use sage_infra::amqp::Broker;
use sage_store::Db;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub broker: Arc<Broker>,
    pub redis: redis::Client,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}
