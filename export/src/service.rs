//! Gateways -> Services named after the gateway: `port` is the gateway's port,
//! `targetPort` the interface's container port by name, the selector the target's
//! pods; `type` from the target's `kubernetes.serviceType` (default ClusterIP). The
//! listen address of a gateway has no counterpart (a Service is reached through the
//! cluster network).
//!
//! A gateway in front of a remote app has no pods to select: a host name becomes an
//! `ExternalName` Service, an IP address a Service without selector plus an
//! EndpointSlice holding that address. Kubernetes refuses loopback endpoints, so a
//! loopback address gets a Service with no endpoints and a warning.

use crate::error::Error;
use crate::meta::{Ctx, Target};
use crate::names;
use crate::{Builder, Phase};
use lcc_compiler::podspec::Protocol;
use lcc_compiler::GatewaySpec;
use serde_json::{json, Map, Value};
use std::net::IpAddr;

/// Adds the Service (and EndpointSlice) of each gateway.
pub fn add(ctx: &Ctx<'_>, out: &mut Builder) -> Result<(), Error> {
    for gateway in &ctx.plan.gateways {
        let Some(target) = ctx.target(&gateway.target) else {
            continue;
        };
        names::dns_label(&format!("name of Gateway/{}", gateway.name), &gateway.name)?;
        names::port_name(
            &format!("interface name of Gateway/{}", gateway.name),
            &gateway.interface,
        )?;
        match &target.spec.remote {
            Some(remote) => remote_service(ctx, gateway, target, &remote.host, out)?,
            None => service(ctx, gateway, target, out),
        }
    }
    Ok(())
}

/// The `ports` entry of a gateway's Service.
fn port(gateway: &GatewaySpec, target_port: Value) -> Value {
    let mut port = Map::new();
    port.insert("name".into(), json!(gateway.interface));
    port.insert("port".into(), json!(gateway.port));
    port.insert("targetPort".into(), target_port);
    port.insert("protocol".into(), json!("TCP"));
    if gateway.protocol == Protocol::Http {
        port.insert("appProtocol".into(), json!("http"));
    }
    Value::Object(port)
}

/// A Service over the target's pods.
fn service(ctx: &Ctx<'_>, gateway: &GatewaySpec, target: Target<'_>, out: &mut Builder) {
    let service_type = target.kube.service_type.map_or("ClusterIP", |t| t.as_str());
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": ctx.metadata(&gateway.name, &target.spec.app, &gateway.target),
        "spec": {
            "type": service_type,
            "selector": ctx.selector(&gateway.target),
            "ports": [port(gateway, json!(gateway.interface))],
        },
    });
    out.push(Phase::Service, "Service", &gateway.name, service);
}

/// The Service (and EndpointSlice) of a gateway in front of a remote app.
fn remote_service(
    ctx: &Ctx<'_>,
    gateway: &GatewaySpec,
    target: Target<'_>,
    host: &str,
    out: &mut Builder,
) -> Result<(), Error> {
    let app = &target.spec.app;
    let remote_port = target
        .spec
        .interfaces
        .iter()
        .find(|i| i.name == gateway.interface)
        .and_then(|i| i.port)
        .unwrap_or(gateway.port);
    let meta = ctx.metadata(&gateway.name, app, &gateway.target);
    let ip: Option<IpAddr> = host.trim_matches(['[', ']']).parse().ok();
    let loopback = ip.is_some_and(|ip| ip.is_loopback()) || host == "localhost";
    if loopback {
        out.warn(format!(
            "Gateway/{}: the remote address {host} of Application/{app} is this machine's loopback, which a Kubernetes cluster cannot reach: Service {} gets no endpoints; point the application at an address the cluster reaches",
            gateway.name, gateway.name
        ));
    }
    let ip = ip.filter(|_| !loopback);
    let spec = if ip.is_some() || loopback {
        // No selector: the endpoints are the EndpointSlice below (none for loopback).
        json!({"ports": [port(gateway, json!(remote_port))]})
    } else {
        // DNS names are case-insensitive; Kubernetes takes them in lowercase only.
        let host = host.to_ascii_lowercase();
        let what = format!("remote host of Application/{app}");
        names::dns_subdomain(&what, host.trim_end_matches('.'))?;
        if remote_port != gateway.port {
            out.warn(format!(
                "Gateway/{}: an ExternalName Service cannot map port {} to {remote_port}: clients reach {host} on port {remote_port}",
                gateway.name, gateway.port
            ));
        }
        json!({
            "type": "ExternalName",
            "externalName": host,
            "ports": [port(gateway, json!(remote_port))],
        })
    };
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec});
    out.push(Phase::Service, "Service", &gateway.name, service);
    let Some(ip) = ip else {
        return Ok(());
    };
    let mut slice_meta = ctx.metadata(&gateway.name, app, &gateway.target);
    slice_meta["labels"]["kubernetes.io/service-name"] = json!(gateway.name);
    let address_type = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": slice_meta,
        "addressType": address_type,
        "endpoints": [{"addresses": [ip.to_string()]}],
        "ports": [{"name": gateway.interface, "port": remote_port, "protocol": "TCP"}],
    });
    out.push(Phase::Endpoints, "EndpointSlice", &gateway.name, slice);
    Ok(())
}
