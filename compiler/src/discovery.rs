//! Discovery: every local pod's environment names the cluster's Gateways, as
//! Kubernetes' service environment variables name its Services:
//! `LCC_GATEWAY_<NAME>=host:port`, `LCC_GATEWAY_<NAME>_HOST`, `LCC_GATEWAY_<NAME>_PORT`,
//! `<NAME>` uppercased with `-` as `_`.

use crate::interpolate::GatewayAddr;
use crate::podspec::EnvVar;

/// The prefix of a gateway's variables: `LCC_GATEWAY_` and its name in capitals.
pub fn prefix(gateway: &str) -> String {
    format!(
        "LCC_GATEWAY_{}",
        gateway.to_ascii_uppercase().replace('-', "_")
    )
}

/// The three variables of one gateway reached at `addr`.
pub fn vars(gateway: &str, addr: &GatewayAddr) -> [EnvVar; 3] {
    let prefix = prefix(gateway);
    [
        EnvVar {
            name: prefix.clone(),
            value: addr.host_port(),
        },
        EnvVar {
            name: format!("{prefix}_HOST"),
            value: addr.host.clone(),
        },
        EnvVar {
            name: format!("{prefix}_PORT"),
            value: addr.port.clone(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values() {
        let table = [
            (
                "db",
                None,
                "5432",
                [
                    "LCC_GATEWAY_DB=127.0.0.1:5432",
                    "LCC_GATEWAY_DB_HOST=127.0.0.1",
                    "LCC_GATEWAY_DB_PORT=5432",
                ],
            ),
            (
                "web-api",
                Some("0.0.0.0"),
                "80",
                [
                    "LCC_GATEWAY_WEB_API=127.0.0.1:80",
                    "LCC_GATEWAY_WEB_API_HOST=127.0.0.1",
                    "LCC_GATEWAY_WEB_API_PORT=80",
                ],
            ),
            (
                "v6",
                Some("::1"),
                "81",
                [
                    "LCC_GATEWAY_V6=[::1]:81",
                    "LCC_GATEWAY_V6_HOST=::1",
                    "LCC_GATEWAY_V6_PORT=81",
                ],
            ),
        ];
        for (name, address, port, want) in table {
            let got = vars(name, &GatewayAddr::new(address, port))
                .map(|v| format!("{}={}", v.name, v.value));
            assert_eq!(got, want, "{name}");
        }
    }
}
