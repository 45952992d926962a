//! HTTP routes, one module per part of API.md.

pub mod service;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(service::health)
        .service(service::ready)
        .service(crate::openapi::spec)
        .service(crate::openapi::docs);
}
