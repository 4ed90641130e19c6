use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A config file in the temp directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(contents: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "switchyard-config-test-{}-{}.toml",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).expect("write temp config file");
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("temp path is UTF-8")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Loads with `args` after the program name and exactly `env` set.
fn load(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(
        std::iter::once("switchyard").chain(args.iter().copied()),
        env.iter().copied(),
    )
}

fn load_err(args: &[&str], env: &[(&str, &str)]) -> String {
    load(args, env)
        .expect_err("expected a config error")
        .to_string()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn default_matches_documented_values() {
    let c = Config::default();
    assert_eq!(c.host, "127.0.0.1");
    assert_eq!(c.port, 3000);
    assert_eq!(c.path, "/socket.io/");
    assert_eq!(c.static_dir, PathBuf::from("static"));
    assert_eq!(c.ping_interval_ms, 25_000);
    assert_eq!(c.ping_timeout_ms, 20_000);
    assert_eq!(c.upgrade_timeout_ms, 10_000);
    assert_eq!(c.connect_timeout_ms, 45_000);
    assert_eq!(c.max_payload, 1_000_000);
    assert_eq!(c.max_buffer_bytes, 1_048_576);
    assert_eq!(c.max_attachments, 10);
    assert!(c.cors_origins.is_empty());
    assert_eq!(c.transports, vec![Transport::Polling, Transport::Websocket]);
    assert_eq!(c.shutdown_timeout_ms, 5_000);
    c.validate().expect("defaults are valid");
}

#[test]
fn load_without_overrides_is_default() {
    let loaded = load(&[], &[]).unwrap();
    assert_eq!(format!("{loaded:?}"), format!("{:?}", Config::default()));
}

#[test]
fn every_key_is_documented_and_has_a_flag() {
    let defaults = default_values();
    let mut documented: Vec<&str> = documented_keys().iter().map(|(k, _)| *k).collect();
    documented.sort();
    let parsed: Vec<&str> = defaults.keys().map(String::as_str).collect();
    assert_eq!(documented, parsed, "documented_keys() must find every key");
    for (key, doc) in documented_keys() {
        assert!(
            !doc.is_empty(),
            "{key} has no comment in config/default.toml"
        );
        assert_ne!(key, CONFIG_FLAG, "a key may not be named like --config");
    }

    let command = command(&defaults);
    for key in defaults.keys() {
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == key.as_str())
            .unwrap_or_else(|| panic!("no flag for {key}"));
        assert_eq!(format!("--{}", arg.get_long().unwrap()), flag(key));
    }
    // Config::default() extracts the defaults with deny_unknown_fields, so
    // this also checks that Config and config/default.toml have the same keys.
    Config::default();
}

#[test]
fn cli_definition_is_consistent() {
    command(&default_values()).debug_assert();
}

#[test]
fn help_shows_docs_env_and_default() {
    let help = command(&default_values()).render_help().to_string();
    assert!(help.contains("--ping-interval-ms <N>"), "{help}");
    assert!(
        help.contains(
            "Milliseconds between heartbeat pings the server sends to each client \
             [env: SWITCHYARD_PING_INTERVAL_MS] [default: 25000]"
        ),
        "{help}"
    );
    assert!(help.contains("[env: SWITCHYARD_TRANSPORTS] [default: polling,websocket]"));
    assert!(help.contains("[env: SWITCHYARD_CONFIG]"));
}

#[test]
fn file_overrides_only_its_keys() {
    let file = TempFile::new("port = 4000\ntransports = [\"websocket\"]\n");
    let c = load(&["--config", file.path()], &[]).unwrap();
    assert_eq!(c.port, 4000);
    assert_eq!(c.transports, vec![Transport::Websocket]);
    assert_eq!(c.host, "127.0.0.1");
    assert_eq!(c.ping_interval_ms, 25_000);
    assert_eq!(c.max_payload, 1_000_000);
}

#[test]
fn config_path_from_env_and_flag_wins() {
    let from_env = TempFile::new("port = 4001\n");
    let from_flag = TempFile::new("port = 4002\n");
    let c = load(&[], &[(CONFIG_ENV, from_env.path())]).unwrap();
    assert_eq!(c.port, 4001);
    let c = load(
        &["--config", from_flag.path()],
        &[(CONFIG_ENV, from_env.path())],
    )
    .unwrap();
    assert_eq!(c.port, 4002);
    // An empty SWITCHYARD_CONFIG means no file.
    let c = load(&[], &[(CONFIG_ENV, "")]).unwrap();
    assert_eq!(c.port, 3000);
}

#[test]
fn env_overrides_file() {
    let file = TempFile::new("port = 4000\nhost = \"10.0.0.1\"\n");
    let c = load(
        &["--config", file.path()],
        &[
            ("SWITCHYARD_PORT", "5000"),
            ("SWITCHYARD_PING_INTERVAL_MS", "100"),
        ],
    )
    .unwrap();
    assert_eq!(c.port, 5000);
    assert_eq!(c.host, "10.0.0.1");
    assert_eq!(c.ping_interval_ms, 100);
}

#[test]
fn cli_overrides_env() {
    let file = TempFile::new("port = 4000\n");
    let c = load(
        &[
            "--config",
            file.path(),
            "--port",
            "6000",
            "--static-dir",
            "/srv/www",
        ],
        &[("SWITCHYARD_PORT", "5000"), ("SWITCHYARD_HOST", "0.0.0.0")],
    )
    .unwrap();
    assert_eq!(c.port, 6000);
    assert_eq!(c.host, "0.0.0.0");
    assert_eq!(c.static_dir, PathBuf::from("/srv/www"));
}

#[test]
fn every_key_settable_from_env_and_cli() {
    let values = [
        ("host", "::1"),
        ("port", "1"),
        ("path", "/io/"),
        ("static_dir", "public"),
        ("ping_interval_ms", "2"),
        ("ping_timeout_ms", "3"),
        ("upgrade_timeout_ms", "4"),
        ("connect_timeout_ms", "5"),
        ("max_payload", "6"),
        ("max_buffer_bytes", "7"),
        ("max_attachments", "8"),
        ("cors_origins", "*"),
        ("transports", "websocket"),
        ("shutdown_timeout_ms", "9"),
        ("log_format", "json"),
        ("per_message_deflate", "true"),
        ("http_compression_threshold", "10"),
        ("allow_eio3", "false"),
        ("max_json_depth", "19"),
        ("parser", "msgpack"),
        ("max_namespaces_per_client", "16"),
        ("max_rooms_per_socket", "17"),
        ("max_pending_acks_per_socket", "18"),
        ("max_connections_per_ip", "13"),
        ("handshakes_per_second_per_ip", "14"),
        ("handshake_burst_per_ip", "15"),
        ("trusted_proxies", "10.0.0.0/8,::1"),
        ("ws_check_origin", "false"),
        ("check_sid_address", "true"),
        ("virtual_requests", "false"),
        ("vr_max_in_flight", "11"),
        ("vr_send_response_headers", "false"),
        ("vr_send_status_code", "false"),
        ("adapter", "redis"),
        ("redis_url", "rediss://10.0.0.1:7000/2"),
        (
            "redis_cluster",
            "rediss://10.0.0.1:7000,rediss://10.0.0.2:7000",
        ),
        ("redis_tls_ca_file", "ca.pem"),
        ("redis_tls_cert_file", "node.pem"),
        ("redis_tls_key_file", "node.key"),
        ("redis_key_prefix", "app"),
        ("redis_request_timeout_ms", "12"),
        ("redis_variant", "sharded"),
        ("redis_subscription_mode", "static"),
        ("redis_wait_at_start", "true"),
        ("redis_stream_name", "events"),
        ("redis_stream_max_len", "23"),
        ("redis_stream_read_count", "24"),
        ("connection_state_recovery", "true"),
        ("recovery_max_disconnection_ms", "20"),
        ("recovery_skip_middlewares", "false"),
        ("recovery_max_packets", "21"),
        ("recovery_max_bytes", "22"),
        ("admin_ui", "true"),
        ("admin_ui_path", "/ops"),
        ("admin_namespace", "/watch"),
        ("admin_auth", "false"),
        ("admin_username", "root"),
        ("admin_password_hash", "unused"),
        ("admin_readonly", "true"),
        ("admin_mode", "production"),
        ("admin_server_id", "n1"),
        ("metrics", "true"),
        ("metrics_path", "/prom"),
        ("metrics_addr", "[::1]:9000"),
    ];
    let expected = "Config { host: \"::1\", port: 1, path: \"/io/\", static_dir: \"public\", \
         ping_interval_ms: 2, ping_timeout_ms: 3, upgrade_timeout_ms: 4, \
         connect_timeout_ms: 5, max_payload: 6, max_buffer_bytes: 7, max_attachments: 8, \
         cors_origins: [\"*\"], transports: [Websocket], shutdown_timeout_ms: 9, \
         log_format: Json, per_message_deflate: true, http_compression_threshold: 10, allow_eio3: false, \
         max_json_depth: 19, parser: Msgpack, max_namespaces_per_client: 16, max_rooms_per_socket: 17, max_pending_acks_per_socket: 18, \
         max_connections_per_ip: 13, handshakes_per_second_per_ip: 14, handshake_burst_per_ip: 15, \
         trusted_proxies: [\"10.0.0.0/8\", \"::1\"], ws_check_origin: false, check_sid_address: true, \
         virtual_requests: false, vr_max_in_flight: 11, vr_send_response_headers: false, \
         vr_send_status_code: false, adapter: Redis, redis_url: \"rediss://10.0.0.1:7000/2\", \
         redis_cluster: [\"rediss://10.0.0.1:7000\", \"rediss://10.0.0.2:7000\"], \
         redis_tls_ca_file: \"ca.pem\", redis_tls_cert_file: \"node.pem\", \
         redis_tls_key_file: \"node.key\", redis_key_prefix: \"app\", redis_request_timeout_ms: 12, redis_variant: Sharded, \
         redis_subscription_mode: Static, redis_wait_at_start: true, \
         redis_stream_name: \"events\", redis_stream_max_len: 23, redis_stream_read_count: 24, \
         connection_state_recovery: true, recovery_max_disconnection_ms: 20, \
         recovery_skip_middlewares: false, recovery_max_packets: 21, recovery_max_bytes: 22, \
         admin_ui: true, admin_ui_path: \"/ops\", admin_namespace: \"/watch\", admin_auth: false, \
         admin_username: \"root\", admin_password_hash: \"unused\", admin_readonly: true, \
         admin_mode: Production, admin_server_id: \"n1\", \
         metrics: true, metrics_path: \"/prom\", metrics_addr: \"[::1]:9000\", \
         file: None }";

    let env: Vec<(String, &str)> = values.iter().map(|&(k, v)| (env_var(k), v)).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(format!("{:?}", load(&[], &env).unwrap()), expected);

    let args: Vec<String> = values
        .iter()
        .flat_map(|&(k, v)| [flag(k), v.to_owned()])
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(format!("{:?}", load(&args, &[]).unwrap()), expected);
}

#[test]
fn lists_from_env_are_comma_separated() {
    let c = load(
        &[],
        &[
            (
                "SWITCHYARD_CORS_ORIGINS",
                "https://a.example, http://b.example:8080,,",
            ),
            ("SWITCHYARD_TRANSPORTS", "websocket,polling"),
        ],
    )
    .unwrap();
    assert_eq!(
        c.cors_origins,
        strings(&["https://a.example", "http://b.example:8080"])
    );
    assert_eq!(c.transports, vec![Transport::Websocket, Transport::Polling]);
}

#[test]
fn lists_from_cli_are_comma_separated() {
    let c = load(
        &["--cors-origins", "*", "--transports", "polling"],
        &[("SWITCHYARD_TRANSPORTS", "websocket")],
    )
    .unwrap();
    assert_eq!(c.cors_origins, strings(&["*"]));
    assert_eq!(c.transports, vec![Transport::Polling]);

    let c = load(
        &["--cors-origins", "https://a.example,https://b.example"],
        &[],
    )
    .unwrap();
    assert_eq!(
        c.cors_origins,
        strings(&["https://a.example", "https://b.example"])
    );
}

#[test]
fn empty_list_value_clears_the_list() {
    let file = TempFile::new("cors_origins = [\"*\"]\n");
    let c = load(&["--config", file.path(), "--cors-origins", ""], &[]).unwrap();
    assert!(c.cors_origins.is_empty());
    assert_eq!(
        load_err(&[], &[("SWITCHYARD_TRANSPORTS", "")]),
        "config key 'transports': must not be empty (from SWITCHYARD_TRANSPORTS)"
    );
}

#[test]
fn unknown_key_in_file_is_named() {
    let file = TempFile::new("prot = 4000\n");
    assert_eq!(
        load_err(&["--config", file.path()], &[]),
        format!(
            "config file {}: unknown key 'prot' (did you mean 'port'?)",
            file.path()
        )
    );
    let file = TempFile::new("pign_interval_ms = 4000\n");
    assert_eq!(
        load_err(&["--config", file.path()], &[]),
        format!(
            "config file {}: unknown key 'pign_interval_ms' (did you mean 'ping_interval_ms'?)",
            file.path()
        )
    );
    // Nothing near: where the keys are listed.
    let file = TempFile::new("[server]\nport = 4000\n");
    assert_eq!(
        load_err(&["--config", file.path()], &[]),
        format!(
            "config file {}: unknown key 'server' (`switchyard --help` lists every key and its variable)",
            file.path()
        )
    );
}

#[test]
fn bad_type_in_file_is_named() {
    let file = TempFile::new("port = \"abc\"\n");
    assert_eq!(
        load_err(&["--config", file.path()], &[]),
        format!(
            "config key 'port': invalid value \"abc\" (from config file {}): \
             expected an integer 0..=65535",
            file.path()
        )
    );
    let file = TempFile::new("transports = [\"polling\", 1]\n");
    assert_eq!(
        load_err(&["--config", file.path()], &[]),
        format!(
            "config key 'transports': invalid value [\"polling\",1] (from config file {}): \
             expected an array of strings",
            file.path()
        )
    );
    let file = TempFile::new("transports = \"polling\"\n");
    assert_eq!(
        load_err(&["--config", file.path()], &[]),
        format!(
            "config key 'transports': invalid value \"polling\" (from config file {}): \
             expected an array of strings",
            file.path()
        )
    );
    let file = TempFile::new("max_payload = -1\n");
    assert_eq!(
        load_err(&["--config", file.path()], &[]),
        format!(
            "config key 'max_payload': invalid value -1 (from config file {}): \
             expected an integer 0..={}",
            file.path(),
            usize::MAX
        )
    );
    let file = TempFile::new("per_message_deflate = 1\n");
    assert_eq!(
        load_err(&["--config", file.path()], &[]),
        format!(
            "config key 'per_message_deflate': invalid value 1 (from config file {}): \
             expected a boolean",
            file.path()
        )
    );
}

#[test]
fn toml_syntax_error_names_file_and_line() {
    let file = TempFile::new("host = \"0.0.0.0\"\nport = 1\nport = = 2\n");
    let message = load_err(&["--config", file.path()], &[]);
    let prefix = format!("config file {}: TOML parse error at line 3", file.path());
    assert!(message.starts_with(&prefix), "{message}");
}

#[test]
fn missing_file_is_named() {
    let message = load_err(&["--config", "/nonexistent/switchyard.toml"], &[]);
    assert!(
        message.starts_with("config file /nonexistent/switchyard.toml: No such file"),
        "{message}"
    );
}

#[test]
fn bad_env_value_is_named() {
    assert_eq!(
        load_err(&[], &[("SWITCHYARD_PORT", "abc")]),
        "config key 'port': invalid value \"abc\" (from SWITCHYARD_PORT): \
         expected an integer 0..=65535"
    );
    assert_eq!(
        load_err(&[], &[("SWITCHYARD_PORT", "65536")]),
        "config key 'port': invalid value 65536 (from SWITCHYARD_PORT): \
         expected an integer 0..=65535"
    );
    assert_eq!(
        load_err(&[], &[("SWITCHYARD_MAX_PAYLOAD", "-5")]),
        format!(
            "config key 'max_payload': invalid value \"-5\" (from SWITCHYARD_MAX_PAYLOAD): \
             expected an integer 0..={}",
            usize::MAX
        )
    );
    assert_eq!(
        load_err(&[], &[("SWITCHYARD_PER_MESSAGE_DEFLATE", "yes")]),
        "config key 'per_message_deflate': invalid value \"yes\" \
         (from SWITCHYARD_PER_MESSAGE_DEFLATE): expected a boolean"
    );
}

#[test]
fn bad_cli_value_is_named() {
    assert_eq!(
        load_err(&["--ping-timeout-ms", "soon"], &[]),
        format!(
            "config key 'ping_timeout_ms': invalid value \"soon\" (from --ping-timeout-ms): \
             expected an integer 0..={}",
            u64::MAX
        )
    );
}

#[test]
fn unknown_env_vars_are_all_named() {
    assert_eq!(
        load_err(&[], &[("SWITCHYARD_PORTT", "1")]),
        "unknown environment variable SWITCHYARD_PORTT (did you mean SWITCHYARD_PORT?)"
    );
    let message = load_err(
        &[],
        &[
            ("SWITCHYARD_Z", "1"),
            ("SWITCHYARD_PORT", "4000"),
            ("SWITCHYARD_Port", "4000"),
            ("SWITCHYARD_", ""),
        ],
    );
    assert_eq!(
        message,
        "unknown environment variables \
         SWITCHYARD_ (`switchyard --help` lists every key and its variable), \
         SWITCHYARD_Port (did you mean SWITCHYARD_PORT?), \
         SWITCHYARD_Z (`switchyard --help` lists every key and its variable)"
    );
    // Every key's variable and SWITCHYARD_CONFIG are known; others are not ours.
    assert_eq!(known_env_vars().len(), default_values().len() + 1);
    let c = load(
        &[],
        &[(CONFIG_ENV, ""), ("HOME", "/root"), ("SWITCHYARDX", "1")],
    )
    .unwrap();
    assert_eq!(c.port, 3000);
}

#[test]
fn non_utf8_env_value_is_named() {
    use std::os::unix::ffi::OsStringExt;
    let bad = OsString::from_vec(vec![0xff, b'1']);
    let err = Config::load(
        ["switchyard"],
        [(OsString::from("SWITCHYARD_HOST"), bad.clone())],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment variable SWITCHYARD_HOST: value is not valid UTF-8"
    );
    // A variable whose name is not UTF-8 cannot be ours.
    let c = Config::load(["switchyard"], [(bad, OsString::from("x"))]).unwrap();
    assert_eq!(c.host, "127.0.0.1");
}

#[test]
fn shadowed_bad_value_is_still_reported() {
    assert!(
        load_err(&["--port", "80"], &[("SWITCHYARD_PORT", "abc")])
            .starts_with("config key 'port': invalid value \"abc\" (from SWITCHYARD_PORT)")
    );
    let file = TempFile::new("port = true\n");
    assert_eq!(
        load_err(&["--config", file.path()], &[("SWITCHYARD_PORT", "80")]),
        format!(
            "config key 'port': invalid value true (from config file {}): \
             expected an integer 0..=65535",
            file.path()
        )
    );
}

#[test]
fn redis_tls_files_need_each_other_and_a_rediss_url() {
    assert_eq!(
        load_err(&["--redis-tls-cert-file", "node.pem"], &[]),
        "config key 'redis_tls_key_file': redis_tls_cert_file and redis_tls_key_file go \
         together: set both or neither"
    );
    assert_eq!(
        load_err(
            &["--adapter", "redis", "--redis-tls-ca-file", "ca.pem"],
            &[]
        ),
        "config key 'redis_url': must start with rediss:// when redis_tls_ca_file or \
         redis_tls_cert_file is set"
    );
    let tls = [
        "--adapter",
        "redis-streams",
        "--redis-url",
        "rediss://127.0.0.1:6380",
        "--redis-tls-ca-file",
        "ca.pem",
    ];
    assert_eq!(load(&tls, &[]).unwrap().redis_tls_ca_file, "ca.pem");
    // Without a Redis adapter the files are not used, so not checked.
    let local = load(&["--redis-tls-ca-file", "ca.pem"], &[]).unwrap();
    assert_eq!(local.redis_tls_ca_file, "ca.pem");
}

#[test]
fn bad_adapter_is_named() {
    assert_eq!(
        load_err(&["--adapter", "carrier-pigeon"], &[]),
        "config key 'adapter': unknown value \"carrier-pigeon\" \
         (expected local, redis, redis-streams) (from --adapter)"
    );
    assert_eq!(
        load_err(&[], &[("SWITCHYARD_REDIS_STREAM_READ_COUNT", "0")]),
        "config key 'redis_stream_read_count': must be greater than 0 \
         (from SWITCHYARD_REDIS_STREAM_READ_COUNT)"
    );
    assert_eq!(
        load_err(&[], &[("SWITCHYARD_REDIS_REQUEST_TIMEOUT_MS", "0")]),
        "config key 'redis_request_timeout_ms': must be greater than 0 \
         (from SWITCHYARD_REDIS_REQUEST_TIMEOUT_MS)"
    );
}

#[test]
fn recovery_with_a_redis_adapter_that_follows_rooms_is_refused() {
    let sharded = ["--adapter", "redis", "--redis-variant", "sharded"];
    let on = ["--connection-state-recovery", "true"];
    let err = load_err(&[&sharded[..], &on[..]].concat(), &[]);
    assert!(
        err.starts_with("config key 'redis_subscription_mode': must be \"static\""),
        "{err}"
    );
    let fixed = [
        &sharded[..],
        &on[..],
        &["--redis-subscription-mode", "static"],
    ]
    .concat();
    assert!(load(&fixed, &[]).is_ok());
    assert!(
        load(
            &[&sharded[..], &["--connection-state-recovery", "false"]].concat(),
            &[]
        )
        .is_ok()
    );
}

#[test]
fn a_redis_cluster_takes_seed_urls_and_not_the_classic_adapter() {
    let seeds = [
        "--redis-cluster",
        "redis://10.0.0.1:7000,redis://10.0.0.2:7000",
    ];
    let sharded = [
        &seeds[..],
        &["--adapter", "redis", "--redis-variant", "sharded"],
    ]
    .concat();
    assert_eq!(load(&sharded, &[]).unwrap().redis_cluster.len(), 2);
    let streams = [&seeds[..], &["--adapter", "redis-streams"]].concat();
    assert!(load(&streams, &[]).is_ok());
    let classic = [&seeds[..], &["--adapter", "redis"]].concat();
    let err = load_err(&classic, &[]);
    assert!(
        err.starts_with("config key 'redis_variant': must be \"sharded\" with redis_cluster"),
        "{err}"
    );
    let err = load_err(&["--redis-cluster", "10.0.0.1:7000"], &[]);
    assert_eq!(
        err,
        "config key 'redis_cluster': invalid seed \"10.0.0.1:7000\" (expected redis://host:port) \
         (from --redis-cluster)"
    );
}

#[test]
fn trusted_proxies_are_addresses_or_networks() {
    let config = load(&["--trusted-proxies", "10.0.0.0/8,192.0.2.1"], &[]).unwrap();
    let networks = config.trusted_proxy_networks();
    assert_eq!(networks.len(), 2);
    assert!(networks[1].contains(&"192.0.2.1".parse::<std::net::IpAddr>().unwrap()));
    assert_eq!(
        load_err(&["--trusted-proxies", "10.0.0.0/99"], &[]),
        "config key 'trusted_proxies': invalid address or network \"10.0.0.0/99\" \
         (expected e.g. 10.0.0.1 or 10.0.0.0/8) (from --trusted-proxies)"
    );
}

#[test]
fn port_zero_is_allowed() {
    assert_eq!(load(&["--port", "0"], &[]).unwrap().port, 0);
}

#[test]
fn bad_transport_is_named() {
    assert_eq!(
        load_err(&["--transports", "polling,carrier-pigeon"], &[]),
        "config key 'transports': unknown value \"carrier-pigeon\" \
         (expected polling, websocket) (from --transports)"
    );
    let file = TempFile::new("transports = []\n");
    assert_eq!(
        load_err(&["--config", file.path()], &[]),
        format!(
            "config key 'transports': must not be empty (from config file {})",
            file.path()
        )
    );
}

#[test]
fn bad_path_is_named() {
    assert_eq!(
        load_err(&[], &[("SWITCHYARD_PATH", "socket.io")]),
        "config key 'path': must start and end with '/' (from SWITCHYARD_PATH)"
    );
    assert!(load_err(&["--path", "/socket.io"], &[]).starts_with("config key 'path': "));
    assert_eq!(load(&["--path", "/"], &[]).unwrap().path, "/");
}

#[test]
fn zero_ping_interval_is_named() {
    assert_eq!(
        load_err(&["--ping-interval-ms", "0"], &[]),
        "config key 'ping_interval_ms': must be greater than 0 (from --ping-interval-ms)"
    );
    let file = TempFile::new("ping_interval_ms = 0\n");
    assert_eq!(
        load_err(&["--config", file.path()], &[]),
        format!(
            "config key 'ping_interval_ms': must be greater than 0 (from config file {})",
            file.path()
        )
    );
}

#[test]
fn other_rules_are_named() {
    for (args, key) in [
        (&["--ping-timeout-ms", "0"][..], "ping_timeout_ms"),
        (&["--upgrade-timeout-ms", "0"][..], "upgrade_timeout_ms"),
        (&["--connect-timeout-ms", "0"][..], "connect_timeout_ms"),
        (&["--max-payload", "0"][..], "max_payload"),
        (&["--max-buffer-bytes", "0"][..], "max_buffer_bytes"),
        (&["--host", ""][..], "host"),
        (&["--static-dir", ""][..], "static_dir"),
        (
            &["--cors-origins", "https://a.example/"][..],
            "cors_origins",
        ),
        (&["--cors-origins", "a.example"][..], "cors_origins"),
        (&["--ping-interval-ms", "2147483647"][..], "ping_timeout_ms"),
        (&["--metrics-path", "metrics"][..], "metrics_path"),
        (&["--metrics-path", "/healthz"][..], "metrics_path"),
        (&["--metrics-addr", "9464"][..], "metrics_addr"),
        (&["--metrics-addr", "127.0.0.1:99999"][..], "metrics_addr"),
        (&["--metrics-addr", ":9464"][..], "metrics_addr"),
    ] {
        let message = load_err(args, &[]);
        assert!(
            message.starts_with(&format!("config key '{key}': ")),
            "{args:?}: {message}"
        );
    }
    // Zero is meaningful for these.
    let c = load(
        &["--shutdown-timeout-ms", "0", "--max-attachments", "0"],
        &[],
    )
    .unwrap();
    assert_eq!((c.shutdown_timeout_ms, c.max_attachments), (0, 0));
}

#[test]
fn validate_reports_without_origin() {
    let mut c = Config::default();
    c.transports.clear();
    assert_eq!(
        c.validate().unwrap_err().to_string(),
        "config key 'transports': must not be empty"
    );
}

#[test]
fn help_and_version_are_cli_errors() {
    for (arg, kind) in [
        ("--help", clap::error::ErrorKind::DisplayHelp),
        ("--version", clap::error::ErrorKind::DisplayVersion),
        ("--bogus", clap::error::ErrorKind::UnknownArgument),
    ] {
        match load(&[arg], &[]) {
            Err(ConfigError::Cli(e)) => assert_eq!(e.kind(), kind, "{arg}"),
            other => panic!("{arg}: expected a clap error, got {other:?}"),
        }
    }
}

#[test]
fn helpers() {
    let c = load(
        &[
            "--host",
            "0.0.0.0",
            "--port",
            "8080",
            "--transports",
            "websocket",
        ],
        &[("SWITCHYARD_CORS_ORIGINS", "https://app.example")],
    )
    .unwrap();
    assert_eq!(c.socket_addr(), "0.0.0.0:8080");
    assert!(c.allows_transport(Transport::Websocket));
    assert!(!c.allows_transport(Transport::Polling));
    assert_eq!(c.cors_origins, strings(&["https://app.example"]));

    let d = Config::default();
    assert_eq!(d.ping_interval(), Duration::from_secs(25));
    assert_eq!(d.ping_timeout(), Duration::from_secs(20));
    assert_eq!(d.upgrade_timeout(), Duration::from_secs(10));
    assert_eq!(d.connect_timeout(), Duration::from_secs(45));
    assert_eq!(d.shutdown_timeout(), Duration::from_secs(5));
}

#[test]
fn the_admin_ui_needs_a_bcrypt_hash_unless_its_auth_is_off() {
    let on = ["--admin-ui", "true"];
    let err = load(&on, &[]).unwrap_err().to_string();
    assert!(
        err.contains("'admin_password_hash'") && err.contains("admin_auth = false"),
        "{err}"
    );
    let bad = load(&[on[0], on[1], "--admin-password-hash", "changeit"], &[]).unwrap_err();
    assert!(bad.to_string().contains("valid bcrypt hash"), "{bad}");
    let hash = "$2b$04$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";
    assert!(load(&[on[0], on[1], "--admin-password-hash", hash], &[]).is_ok());
    assert!(load(&[on[0], on[1], "--admin-auth", "false"], &[]).is_ok());
    let root = load(
        &[
            on[0],
            on[1],
            "--admin-auth",
            "false",
            "--admin-ui-path",
            "/",
        ],
        &[],
    );
    assert!(root.unwrap_err().to_string().contains("'admin_ui_path'"));
    // Off (the default), nothing is asked for.
    assert!(load(&[], &[]).is_ok());
}

#[test]
fn the_parser_is_json_unless_set_by_flag_or_env() {
    assert_eq!(load(&[], &[]).unwrap().parser, Parser::Json);
    assert_eq!(
        load(&["--parser", "msgpack"], &[]).unwrap().parser,
        Parser::Msgpack
    );
    let env = [("SWITCHYARD_PARSER", "msgpack")];
    assert_eq!(load(&[], &env).unwrap().parser, Parser::Msgpack);
    assert_eq!(
        load_err(&["--parser", "protobuf"], &[]),
        "config key 'parser': unknown value \"protobuf\" \
         (expected json, msgpack) (from --parser)"
    );
}
