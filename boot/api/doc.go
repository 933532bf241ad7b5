// Package api is the management API of a running box, both its ends: the
// Server that PID 1 runs and the Client that the nucbox command uses. One
// package holds both so that they share the wire types (Status, LogLine,
// ApplyResponse, ...) and cannot drift apart.
//
// The server speaks HTTP/JSON on a local unix socket and, when the config
// sets api.listen, on TCP with TLS; the web status page and the Prometheus
// metrics are served by the same server.
//
// # Endpoints
//
//	GET  /v1/status            phase, boot timeline, config version, links, workloads,
//	                           DHCP leases, a pending try and its deadline
//	GET  /v1/logs/{name}       a log as JSON lines: the box's own (boot), a
//	                           container's output or a VM's serial console;
//	                           ?tail=N keeps the last N lines held;
//	                           ?follow=1 streams it (SSE) until the client leaves
//	GET  /v1/console/{vm}      a VM's serial console, interactive: the request
//	                           asks for Upgrade: nucbox-console and after the 101
//	                           the connection carries the console's bytes both ways;
//	                           or as a WebSocket (binary messages), for the page
//	GET  /v1/vms/{vm}/vnc      a VM's screen: a WebSocket (subprotocol binary)
//	                           carrying the RFB bytes of QEMU's VNC server, which
//	                           listens on a unix socket only; for noVNC on the page
//	                           and nucbox vnc (a local port for a native viewer)
//	POST /v1/workloads/{name}/{start|stop|restart}
//	                           start, stop (and keep stopped) or restart a VM or
//	                           container; 404 for a name the box does not run
//	POST /v1/ports/{name}/enable
//	                           put a workload port (web.0) that its BPDU guard
//	                           err-disabled back into forwarding; 404 for a port
//	                           the box does not have
//	GET  /v1/config            the running config's text, source and SHA-256
//	POST /v1/plan              a config in the body: validation errors, or the diff
//	                           against the running config (JSON and text)
//	POST /v1/apply             a config in the body: validated (422 with every
//	                           problem), diffed as for /v1/plan, then applied;
//	                           ?try=DURATION rolls back unless confirmed in time;
//	                           409 while an apply or a try is in progress
//	POST /v1/apply/confirm     keep the config of the pending try (409 if none)
//	POST /v1/power             {"action": "poweroff" | "reboot"}
//	POST /v1/probe             {"from": "ct10" | "box", "kind": "ping" | "connect" |
//	                           "resolve", "target": ...}: one probe sent from inside
//	                           a container's network namespace (nucbox test);
//	                           409 for a VM or a container not running
//	POST /v1/upgrade           a unified kernel image in the body, written into
//	                           the boot slot not running, on trial;
//	                           ?tries=N boots to reach ready, ?reboot=true
//	GET  /metrics              Prometheus metrics
//	GET  /                     the web status page (assets embedded)
//	GET  /static/vendor/...    the page's viewers, noVNC and xterm.js, from the
//	                           image's WebAssetsDir (404 when it has none)
//	POST /login, /logout       the web page's session cookie
//
// # Authentication
//
// The unix socket lives in a root-only directory and is itself mode 0600,
// so being able to connect is the authentication there: every endpoint is
// open on it. On TCP a request carries the bearer token (Authorization:
// Bearer ...), compared in constant time. The web page's login form trades
// the token for an HttpOnly, SameSite=Strict cookie holding a random
// session value (sessions.go); the cookie grants reading only (status,
// logs, metrics), so a forged cross-site request can never power the box
// off. A session ends at its lifetime, after its idle time, at logout,
// and when the token changes. With api.public-status the status, the page
// and the metrics are readable without a token; logs, config and every
// mutating endpoint still need it. A request with valid credentials
// below the route's level (the cookie on an admin route) is answered 403,
// one without 401.
//
// SetAuth changes the token, public-status and the session lifetimes of
// a running server (a config applied live): the next request is checked
// against the new token, and the sessions and the streams (followed logs,
// consoles) of the old one end (rotate.go). The TCP listener binds with
// IP_FREEBIND (Listen), so api.listen may name an address the box gets
// only later.
//
// A browser cannot set Authorization on a WebSocket, so the page's screen
// and terminal send the token (typed on the page, kept in memory only) as
// a Sec-WebSocket-Protocol entry, BearerProtocolPrefix and the token in
// base64url; the server answers with the binary subprotocol, never that
// entry. WebSockets from another origin are refused.
//
// # Limits
//
// Anyone who reaches the TCP port can open connections, so the server
// bounds what that costs PID 1 (Limits, DefaultLimits): a time to send
// the headers (and finish TLS) and one for the whole request, replaced
// per route once the request passed its access check (UploadTimeout for
// POST /v1/upgrade, none for a console or a followed log); an idle
// timeout; a header size cap; and a cap on connections held, with a
// smaller one on connections that have not yet carried a request with
// valid credentials (connlimit.go). At that cap the oldest such
// connection is closed for the new one, so strangers cycle each other out
// and a client with the token still gets in. Connection errors (failed
// handshakes) reach the box's log at most a few lines a minute.
//
// # The socket
//
// The socket's path is plan.APISocket, defined once: the plan shows it,
// the server listens on it and the client dials it. It lives in
// config/plan rather than here because this package imports config/plan
// (a PlanResponse carries a *plan.Delta, /v1/plan runs plan.Diff), so
// config/plan cannot import this package back.
//
// # Client
//
// NewClient builds a Client for the local socket or for a box on the
// network (https only, a bearer token given or taken from $NUCBOX_TOKEN,
// the box's self-signed certificate trusted by its SHA-256 fingerprint or,
// with Insecure, not checked). It has one method per endpoint; those
// answering one JSON document return it decoded and as sent, so that
// --output json prints what the box said. An answer other than 2xx is an
// *HTTPError (with one line per problem for a config that does not
// validate); options that cannot work are an *OptionError, before
// anything is sent. The errors name the command's flags (--host, --token,
// --fingerprint, --insecure) that set the options, and say what to do.
//
// # Metrics
//
// nucbox_boot_phase{phase}, nucbox_boot_ready_seconds, nucbox_uptime_seconds;
// per workload nucbox_workload_state{kind,name,state},
// nucbox_workload_restarts_total, nucbox_workload_cpu_seconds_total and
// nucbox_workload_resident_memory_bytes (a VM's from QEMU's /proc entry, a
// container's from its cgroup: cpu.stat usage_usec and memory.current); per link nucbox_link_up and the
// nucbox_link_{receive,transmit}_{bytes,packets}_total counters; PID 1's own
// process_* and go_* metrics (process_resident_memory_bytes is its RSS).
// nucbox_port_err_disabled{port,link,reason} is 1 for each err-disabled
// port.
// Limits, over all of a workload's runs: nucbox_workload_memory_limit_hits_total
// (memory.events max), nucbox_workload_oom_kills_total (oom_kill),
// nucbox_workload_pids_limit_hits_total (pids.events max) with the limits
// nucbox_workload_memory_limit_bytes and nucbox_workload_pids_limit; for the
// workloads' parent group nucbox_workloads_{memory_limit_hits,oom,pids_limit_hits}_total.
// Everything is read at scrape time.
//
// # What PID 1 provides
//
// The package does not import boot (boot starts it). PID 1 implements Box;
// the parts of PID 1 that run workloads implement WorkloadSource, and the
// Box lists what each of them reports, so a new kind of workload shows up
// in the status, on the page and in the metrics without changes here. The
// other abilities are optional interfaces: a Box without Applier,
// WorkloadController, Consoler, Screener or Upgrader answers their endpoints with
// 501; one without LeaseSource or UsageSource leaves the leases or the
// usage out of the status and the metrics. Links and addresses come from
// netlink directly.
package api
