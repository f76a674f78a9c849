/**
 * The host tool (components/deploy/host/bluegreen) run for real by bash against stand-ins for
 * docker, curl, socat and flock (test/stubs, see test/host/sandbox.ts): every branch of a release's
 * state machine, uninstall and claim, the lock, pruning and bad input, in seconds and without root,
 * Docker or a network. The same tool against a real Docker Engine, HAProxy and sshd is exercised in
 * test/integration (blue-green.test.ts, uninstall.test.ts).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { callsOf, digest, Host, IMAGE, PROXY_IMAGE } from "./sandbox";

const D1 = digest("1");
const D2 = digest("2");
const D3 = digest("3");
const D4 = digest("4");

describe("host tier: bluegreen against stand-in docker, curl, socat and flock", function () {
    this.timeout(20000);
    let host: Host;
    beforeEach(() => {
        host = new Host();
    });
    afterEach(() => host.cleanup());

    describe("release", () => {
        it("first release: starts the proxy and blue, locked down, and routes to blue", () => {
            host.push(D1);
            const r = host.release("1.0.0", D1);
            assert.strictEqual(r.code, 0, r.stderr);
            const s = r.summary();
            assert.deepStrictEqual(s.active, { colour: "blue", version: "1.0.0", digest: D1, running: true });
            assert.strictEqual(s.retained, null);
            const [app] = callsOf(r.calls, "docker", "run", "-d", "--name", "app-blue");
            assert.deepStrictEqual(app.slice(1), [
                "run",
                "-d",
                "--name",
                "app-blue",
                "--network",
                "app-net",
                "--restart",
                "unless-stopped",
                "--cap-drop",
                "ALL",
                "--security-opt",
                "no-new-privileges",
                "--memory",
                "256m",
                "--memory-swap",
                "256m",
                "--pids-limit",
                "128",
                "--log-opt",
                "max-size=10m",
                "--log-opt",
                "max-file=3",
                "-p",
                "127.0.0.1:18001:8000",
                "-e",
                "PORT=8000",
                "--label",
                "bluegreen.instance=app",
                "--label",
                "bluegreen.role=app",
                "--label",
                "bluegreen.colour=blue",
                "--label",
                "bluegreen.version=1.0.0",
                "--label",
                `bluegreen.digest=${D1}`,
                "--label",
                `bluegreen.image=${IMAGE}`,
                `${IMAGE}@${D1}`,
            ]);
            const [proxy] = callsOf(r.calls, "docker", "run", "-d", "--name", "app-proxy");
            const gid = String(process.getgid?.());
            assert.deepStrictEqual(proxy.slice(1, 19), [
                "run",
                "-d",
                "--name",
                "app-proxy",
                "--network",
                "host",
                "--user",
                `0:${gid}`,
                "--restart",
                "unless-stopped",
                "--cap-drop",
                "ALL",
                "--cap-add",
                "SETUID",
                "--cap-add",
                "SETGID",
                "--security-opt",
                "no-new-privileges",
            ]);
            assert.deepStrictEqual(proxy.slice(-6), [
                "--entrypoint",
                "haproxy",
                PROXY_IMAGE,
                "-db",
                "-f",
                "/usr/local/etc/bluegreen/haproxy.cfg",
            ]);
            // Both commands of the switch in one admin session; then the smoke test through the proxy.
            assert.ok(
                callsOf(r.calls, "socat").some(
                    (c) => c.at(-1) === "<set server app/blue state ready; set server app/green state maint",
                ),
            );
            assert.ok(callsOf(r.calls, "curl").some((c) => c.at(-1) === "http://127.0.0.1:8080/health"));
            assert.ok(callsOf(r.calls, "flock").some((c) => c.join(" ") === "flock -w 120 9"));
            assert.deepStrictEqual(host.routes(), ["blue"]);
            assert.strictEqual(fs.readFileSync(path.join(host.stateDir(), "active"), "utf8"), "blue\n");
            assert.match(
                fs.readFileSync(path.join(host.stateDir(), "proxy", "haproxy.cfg"), "utf8"),
                /server blue 127\.0\.0\.1:18001\n/,
            );
            const [log] = host.releases();
            assert.strictEqual(log.result, "success");
            assert.strictEqual(log.instant, false);
        });

        it("a public port below 1024 gives the proxy NET_BIND_SERVICE, and only then", () => {
            host.push(D1);
            const r = host.release("1.0.0", D1, "--public-port", "80");
            assert.strictEqual(r.code, 0, r.stderr);
            const [proxy] = callsOf(r.calls, "docker", "run", "-d", "--name", "app-proxy");
            assert.deepStrictEqual(proxy.slice(11, 19), [
                "--cap-drop",
                "ALL",
                "--cap-add",
                "SETUID",
                "--cap-add",
                "SETGID",
                "--cap-add",
                "NET_BIND_SERVICE",
            ]);
        });

        it("second release: green serves, blue is retained and keeps running", () => {
            host.push(D1);
            host.push(D2);
            assert.strictEqual(host.release("1.0.0", D1).code, 0);
            const r = host.release("2.0.0", D2, "--env-file", "/etc/app.env");
            assert.strictEqual(r.code, 0, r.stderr);
            const s = r.summary();
            assert.deepStrictEqual(s.active, {
                colour: "green",
                version: "2.0.0",
                digest: D2,
                running: true,
            });
            assert.deepStrictEqual(s.retained, {
                colour: "blue",
                version: "1.0.0",
                digest: D1,
                running: true,
            });
            const [run] = callsOf(r.calls, "docker", "run");
            assert.ok(run.includes("127.0.0.1:18002:8000"));
            assert.deepStrictEqual(run.slice(-3), ["--env-file", "/etc/app.env", `${IMAGE}@${D2}`]);
            // The proxy was not recreated: same image, ports and owner.
            assert.deepStrictEqual(callsOf(r.calls, "docker", "rm", "-f", "app-proxy"), []);
            assert.deepStrictEqual(host.routes(), ["green"]);
        });

        it("releasing what already serves does nothing: no pull, no container, no switch", () => {
            host.push(D1);
            assert.strictEqual(host.release("1.0.0", D1).code, 0);
            const r = host.release("1.0.0", D1);
            assert.strictEqual(r.code, 0, r.stderr);
            assert.match(r.stderr, /already serves on blue; nothing to do/);
            assert.deepStrictEqual(callsOf(r.calls, "docker", "pull"), []);
            assert.deepStrictEqual(callsOf(r.calls, "docker", "run"), []);
            assert.deepStrictEqual(callsOf(r.calls, "docker", "rm"), []);
            assert.ok(!callsOf(r.calls, "socat").some((c) => c.at(-1)?.startsWith("<set server")));
            assert.strictEqual(host.releases().at(-1)?.result, "unchanged");
        });

        it("instant rollback: the retained colour's digest is switched back to, no pull, no new container", () => {
            host.push(D1);
            host.push(D2);
            host.release("1.0.0", D1);
            host.release("2.0.0", D2);
            const r = host.release("1.0.0", D1);
            assert.strictEqual(r.code, 0, r.stderr);
            assert.match(r.stderr, /blue still runs 1\.0\.0 .*switching back to it without a pull/);
            assert.deepStrictEqual(callsOf(r.calls, "docker", "pull"), []);
            assert.deepStrictEqual(callsOf(r.calls, "docker", "image", "inspect"), []);
            assert.deepStrictEqual(callsOf(r.calls, "docker", "run"), []);
            assert.deepStrictEqual(callsOf(r.calls, "docker", "rm"), []);
            // One health probe suffices for a colour that already served.
            assert.strictEqual(
                callsOf(r.calls, "curl").filter((c) => c.at(-1) === "http://127.0.0.1:18001/health").length,
                1,
            );
            assert.deepStrictEqual(host.routes(), ["blue"]);
            assert.deepStrictEqual((r.summary().retained as { colour: string }).colour, "green");
            assert.strictEqual(host.releases().at(-1)?.instant, true);
        });

        it("--fresh starts a new container even when the retained colour runs the digest", () => {
            host.push(D1);
            host.push(D2);
            host.release("1.0.0", D1);
            host.release("2.0.0", D2);
            const r = host.release("1.0.0", D1, "--fresh");
            assert.strictEqual(r.code, 0, r.stderr);
            assert.deepStrictEqual(callsOf(r.calls, "docker", "rm", "-f", "app-blue").length, 1);
            assert.strictEqual(callsOf(r.calls, "docker", "run").length, 1);
            assert.strictEqual(host.releases().at(-1)?.instant, false);
        });

        it("a new colour that never gets healthy is removed, the old one serves, exit 5", () => {
            host.push(D1);
            host.push(D2, "unhealthy");
            host.release("1.0.0", D1);
            const t = Date.now();
            const r = host.release("2.0.0", D2, "--health-timeout", "1");
            assert.strictEqual(r.code, 5, r.stderr);
            assert.ok(Date.now() - t >= 1000, "gave up before the health timeout");
            assert.match(
                r.stderr,
                /app-green \(2\.0\.0\) did not pass GET \/health 2 times in a row within 1s \(last: curl: \(22\) The requested URL returned error: 500\); the old colour keeps serving/,
            );
            assert.match(r.stderr, /removing app-green/);
            assert.strictEqual(host.container("app-green"), undefined);
            assert.strictEqual(host.container("app-blue")?.running, "true");
            assert.deepStrictEqual(host.routes(), ["blue"]);
            assert.ok(
                !callsOf(r.calls, "socat").some((c) => c.at(-1)?.includes("app/green state ready")),
                "switched to an unhealthy colour",
            );
            assert.strictEqual(host.releases().at(-1)?.result, "failed");
            assert.strictEqual(fs.readFileSync(path.join(host.stateDir(), "active"), "utf8"), "blue\n");
        });

        it("a new colour that exits is reported with its last log lines and removed, exit 5", () => {
            host.push(D1);
            host.push(D2, "crash");
            host.release("1.0.0", D1);
            const r = host.release("2.0.0", D2);
            assert.strictEqual(r.code, 5, r.stderr);
            assert.match(
                r.stderr,
                /app-green \(2\.0\.0\) exited before becoming healthy; last log lines: panic: cannot read config/,
            );
            assert.strictEqual(host.container("app-green"), undefined);
            assert.deepStrictEqual(host.routes(), ["blue"]);
        });

        it("a failed smoke test switches back to the old colour and removes the new one, exit 6", () => {
            host.push(D1);
            host.push(D2, "fail /version");
            host.release("1.0.0", D1);
            const r = host.release("2.0.0", D2, "--smoke-path", "/health", "--smoke-path", "/version");
            assert.strictEqual(r.code, 6, r.stderr);
            assert.match(
                r.stderr,
                /smoke test of 2\.0\.0 failed \(GET \/version through the proxy failed: curl: \(22\) The requested URL returned error: 500\); switched back to blue/,
            );
            const switches = callsOf(r.calls, "socat")
                .map((c) => c.at(-1))
                .filter((i) => i?.startsWith("<set server"));
            assert.deepStrictEqual(switches, [
                "<set server app/green state ready; set server app/blue state maint",
                "<set server app/blue state ready; set server app/green state maint",
            ]);
            assert.strictEqual(host.container("app-green"), undefined);
            assert.deepStrictEqual(host.routes(), ["blue"]);
            assert.strictEqual(fs.readFileSync(path.join(host.stateDir(), "active"), "utf8"), "blue\n");
            assert.match(
                fs.readFileSync(path.join(host.stateDir(), "proxy", "haproxy.cfg"), "utf8"),
                /server green 127\.0\.0\.1:18002 disabled\n/,
            );
        });

        it("a failed smoke test of a first release leaves nothing routed, exit 6", () => {
            host.push(D1, "fail /health");
            const r = host.release("1.0.0", D1, "--health-path", "/ready");
            assert.strictEqual(r.code, 6, r.stderr);
            assert.match(r.stderr, /switched back to nothing/);
            assert.deepStrictEqual(host.routes(), []);
            assert.strictEqual(host.container("app-blue"), undefined);
        });

        it("a digest the registry does not have changes nothing, exit 4", () => {
            host.push(D1);
            host.release("1.0.0", D1);
            const r = host.release("2.0.0", D2);
            assert.strictEqual(r.code, 4, r.stderr);
            assert.match(
                r.stderr,
                new RegExp(
                    `cannot pull ${IMAGE}@${D2} \\(is the version pushed, and this host logged in to the registry\\?\\); nothing changed`,
                ),
            );
            assert.deepStrictEqual(callsOf(r.calls, "docker", "run"), []);
            assert.deepStrictEqual(callsOf(r.calls, "docker", "rm"), []);
            assert.deepStrictEqual(host.routes(), ["blue"]);
        });

        it("restores the recorded colour when the proxy routes elsewhere (a release killed after its switch)", () => {
            host.push(D1);
            host.push(D2);
            host.release("1.0.0", D1);
            host.release("2.0.0", D2);
            // The proxy routes to blue, but the last completed release is on green.
            const servers = path.join(host.state, "containers", "app-proxy", "servers");
            fs.writeFileSync(path.join(servers, "blue"), "18001 0\n");
            fs.writeFileSync(path.join(servers, "green"), "18002 1\n");
            const r = host.release("2.0.0", D2);
            assert.strictEqual(r.code, 0, r.stderr);
            assert.match(
                r.stderr,
                /proxy routes to blue but the last completed release is on green: restoring that/,
            );
            assert.deepStrictEqual(host.routes(), ["green"]);
        });

        it("recreates the proxy when its image changes, and only then", () => {
            host.push(D1);
            host.push(D2);
            host.release("1.0.0", D1);
            const other = `haproxy:2.8@sha256:${"d".repeat(64)}`;
            fs.appendFileSync(path.join(host.state, "registry"), `${other}\n`);
            const r = host.release("2.0.0", D2, "--proxy-image", other);
            assert.strictEqual(r.code, 0, r.stderr);
            assert.match(r.stderr, /proxy settings changed \(image, ports or owner\): recreating app-proxy/);
            assert.strictEqual(callsOf(r.calls, "docker", "rm", "-f", "app-proxy").length, 1);
            assert.strictEqual(host.container("app-proxy")?.image, other);
            assert.deepStrictEqual(host.routes(), ["green"]);
        });

        it("a proxy that refuses the switch fails the release, exit 7", () => {
            host.push(D1);
            fs.writeFileSync(path.join(host.state, "proxy-refuses"), "");
            const r = host.release("1.0.0", D1);
            assert.strictEqual(r.code, 7, r.stderr);
            assert.match(
                r.stderr,
                /proxy refused 'set server app\/blue state ready; set server app\/green state maint': No such server\./,
            );
            assert.strictEqual(host.container("app-blue"), undefined);
        });

        it("prunes the images of releases older than the last --keep-releases, not those in use", () => {
            for (const d of [D1, D2, D3, D4]) host.push(d);
            host.release("1.0.0", D1, "--keep-releases", "2");
            host.release("2.0.0", D2, "--keep-releases", "2");
            // D1 is older than the last two releases but the retained blue still runs it: docker refuses.
            let r = host.release("3.0.0", D3, "--keep-releases", "1");
            assert.strictEqual(r.code, 0, r.stderr);
            assert.deepStrictEqual(
                callsOf(r.calls, "docker", "image", "rm").map((c) => c[3]),
                [`${IMAGE}@${D2}`, `${IMAGE}@${D1}`],
            );
            assert.ok(host.images().includes(`${IMAGE}@${D2}`), "pruned the image the retained colour runs");
            r = host.release("4.0.0", D4, "--keep-releases", "2");
            assert.strictEqual(r.code, 0, r.stderr);
            assert.deepStrictEqual(
                host
                    .images()
                    .filter((i) => i.startsWith(IMAGE))
                    .sort(),
                [`${IMAGE}@${D3}`, `${IMAGE}@${D4}`],
            );
        });
    });

    describe("the lock", () => {
        it("held: fails at once with --lock-timeout 0, naming the holder, exit 3, nothing changed", () => {
            host.push(D1);
            const lock = host.holdLock();
            try {
                const r = host.release("1.0.0", D1, "--lock-timeout", "0");
                assert.strictEqual(r.code, 3, r.stderr);
                assert.ok(r.seconds < 1, `took ${r.seconds}s`);
                assert.match(
                    r.stderr,
                    /another release holds the lock on .*\/lock \(waited 0s\): pid 1, releasing 9\.9\.9/,
                );
                assert.deepStrictEqual(callsOf(r.calls, "docker", "run"), []);
            } finally {
                lock.kill();
            }
        });

        it("held: waits --lock-timeout seconds, then exit 3", () => {
            host.push(D1);
            const lock = host.holdLock();
            try {
                const r = host.release("1.0.0", D1, "--lock-timeout", "1");
                assert.strictEqual(r.code, 3, r.stderr);
                assert.ok(r.seconds >= 1, `gave up after ${r.seconds}s`);
                assert.match(r.stderr, /\(waited 1s\)/);
            } finally {
                lock.kill();
            }
        });

        it("is free once its holder is gone, and records the new holder", async () => {
            host.push(D1);
            const lock = host.holdLock();
            lock.kill();
            await new Promise((resolve) => setTimeout(resolve, 50));
            const r = host.release("1.0.0", D1, "--lock-timeout", "0");
            assert.strictEqual(r.code, 0, r.stderr);
            assert.match(
                fs.readFileSync(path.join(host.stateDir(), "lock.holder"), "utf8"),
                /^pid \d+, user \S+, releasing 1\.0\.0 \(sha256:1{64}\), since \S+Z, from local\n$/,
            );
        });

        it("waits for another instance's lock never: each instance has its own", () => {
            host.push(D1);
            const lock = host.holdLock("other");
            try {
                assert.strictEqual(host.release("1.0.0", D1, "--lock-timeout", "0").code, 0);
            } finally {
                lock.kill();
            }
        });
    });

    describe("status, history, claim and uninstall", () => {
        it("status and history report what serves and what was released", () => {
            host.push(D1);
            host.release("1.0.0", D1);
            const s = host.run(["status"]);
            assert.strictEqual(s.code, 0, s.stderr);
            assert.strictEqual(s.summary().version, "1.0.0");
            const h = host.run(["history", "--last", "1"]);
            assert.strictEqual(h.code, 0, h.stderr);
            assert.strictEqual(JSON.parse(h.stdout).version, "1.0.0");
            const none = host.run(["status", "--instance", "none"]);
            assert.deepStrictEqual(none.summary(), {
                instance: "none",
                version: "",
                digest: "",
                image: "",
                active: null,
                retained: null,
            });
        });

        it("uninstall removes the instance's containers, network, released images and state, and the tool", () => {
            host.push(D1);
            host.push(D2);
            host.release("1.0.0", D1);
            host.release("2.0.0", D2);
            assert.strictEqual(host.run(["claim", "--owner", "production-web-1"]).code, 0);
            const r = host.run([
                "uninstall",
                "--owner",
                "production-web-1",
                "--lock-timeout",
                "0",
                "--remove-tool",
            ]);
            assert.strictEqual(r.code, 0, r.stderr);
            for (const c of ["app-blue", "app-green", "app-proxy"])
                assert.strictEqual(host.container(c), undefined, c);
            assert.ok(!fs.existsSync(path.join(host.state, "networks", "app-net")));
            assert.deepStrictEqual(host.images(), [PROXY_IMAGE]);
            assert.ok(!fs.existsSync(host.stateDir()));
            assert.ok(!fs.existsSync(host.tool), "the tool is still there");
            assert.match(
                r.stderr,
                /uninstalled instance app: container app-\S+ container app-\S+ container app-\S+ network app-net image .* state /,
            );
        });

        it("uninstall touches no other instance, and keeps the tool while another instance has state", () => {
            host.push(D1);
            host.release("1.0.0", D1);
            assert.strictEqual(
                host.release(
                    "1.0.0",
                    D1,
                    "--instance",
                    "web",
                    "--public-port",
                    "8081",
                    "--blue-port",
                    "18011",
                    "--green-port",
                    "18012",
                ).code,
                0,
            );
            const r = host.run(["uninstall", "--instance", "web", "--remove-tool"]);
            assert.strictEqual(r.code, 0, r.stderr);
            assert.deepStrictEqual(callsOf(r.calls, "docker", "ps"), [
                ["docker", "ps", "-aq", "--no-trunc", "--filter", "label=bluegreen.instance=web"],
            ]);
            assert.strictEqual(host.container("web-blue"), undefined);
            assert.strictEqual(host.container("app-blue")?.running, "true");
            assert.ok(host.images().includes(`${IMAGE}@${D1}`), "removed an image app's container uses");
            assert.match(r.stderr, /keeping .*bluegreen: other instances keep state in .*: app /);
            assert.ok(fs.existsSync(host.tool));
        });

        it("uninstall with another owner's --owner removes nothing (a renamed resource claimed it)", () => {
            host.push(D1);
            host.release("1.0.0", D1);
            host.run(["claim", "--owner", "production-web-1-new"]);
            const r = host.run(["uninstall", "--owner", "production-web-1", "--remove-tool"]);
            assert.strictEqual(r.code, 0, r.stderr);
            assert.match(
                r.stderr,
                /not uninstalling instance app: it belongs to production-web-1-new now, not production-web-1/,
            );
            assert.deepStrictEqual(
                r.calls.filter((c) => c[0] === "docker" && c[1] !== "info"),
                [],
            );
            assert.strictEqual(host.container("app-blue")?.running, "true");
            assert.ok(fs.existsSync(host.tool));
        });

        it("uninstall waits for a running release's lock, then exit 3", () => {
            host.push(D1);
            host.release("1.0.0", D1);
            const lock = host.holdLock();
            try {
                const r = host.run(["uninstall", "--lock-timeout", "0"]);
                assert.strictEqual(r.code, 3, r.stderr);
                assert.match(r.stderr, /a release of app holds the lock on .*\/lock \(waited 0s\)/);
                assert.strictEqual(host.container("app-blue")?.running, "true");
            } finally {
                lock.kill();
            }
        });

        it("uninstall of an absent instance does nothing, successfully", () => {
            const r = host.run(["uninstall"]);
            assert.strictEqual(r.code, 0, r.stderr);
            assert.match(r.stderr, /uninstalled instance app: nothing was there/);
        });

        it("claim records the owner in the instance's state directory", () => {
            assert.strictEqual(host.run(["claim", "--instance", "web", "--owner", "staging-web-1"]).code, 0);
            assert.strictEqual(
                fs.readFileSync(path.join(host.stateDir("web"), "owner"), "utf8"),
                "staging-web-1\n",
            );
        });
    });

    describe("bad input and a host that lacks something", () => {
        const release = [
            "release",
            "--image",
            IMAGE,
            "--version",
            "1.0.0",
            "--digest",
            D1,
            "--proxy-image",
            PROXY_IMAGE,
            "--memory",
            "256m",
            "--pids-limit",
            "128",
        ];
        const cases: [string, string[], RegExp][] = [
            ["instance", ["status", "--instance", "Web"], /invalid instance Web: must be lowercase/],
            [
                "state-dir",
                ["status", "--state-dir", "/tmp/../etc"],
                /invalid state-dir \/tmp\/\.\.\/etc: must not contain \.\./,
            ],
            [
                "state-dir",
                ["status", "--state-dir", "relative"],
                /invalid state-dir relative: must be an absolute path/,
            ],
            ["last", ["history", "--last", "0"], /invalid last 0: must be 1-100000/],
            [
                "lock-timeout",
                ["uninstall", "--lock-timeout", "3601"],
                /invalid lock-timeout 3601: must be 0-3600/,
            ],
            [
                "lock-timeout",
                [...release, "--lock-timeout", "-1"],
                /invalid lock-timeout -1: must be a whole number/,
            ],
            ["owner", ["claim", "--owner", "a b"], /invalid owner a\\ b: must be letters/],
            ["owner", ["claim"], /claim needs --owner/],
            [
                "image",
                [...release, "--image", "Acme/App"],
                /invalid image Acme\/App: must be an image repository without tag/,
            ],
            [
                "version",
                [...release, "--version", "1.0;id"],
                /invalid version 1\.0\\;id: must be an image tag/,
            ],
            [
                "digest",
                [...release, "--digest", "sha256:abc"],
                /invalid digest sha256:abc: must be sha256: and 64 lowercase hex digits/,
            ],
            [
                "proxy-image",
                [...release, "--proxy-image", "haproxy 2.6"],
                /invalid proxy-image haproxy\\ 2\.6: must be an image reference/,
            ],
            [
                "memory",
                [...release, "--memory", "512"],
                /invalid memory 512: must be a size in megabytes or gigabytes/,
            ],
            ["memory", [...release, "--memory", "5m"], /invalid memory 5m: Docker needs at least 6m/],
            ["pids-limit", [...release, "--pids-limit", "15"], /invalid pids-limit 15: must be 16-65536/],
            ["bind", [...release, "--bind", "localhost"], /invalid bind localhost: must be an IP address/],
            [
                "public-port",
                [...release, "--public-port", "65536"],
                /invalid public-port 65536: must be 1-65535/,
            ],
            ["app-port", [...release, "--app-port", "0"], /invalid app-port 0: must be 1-65535/],
            ["blue-port", [...release, "--blue-port", "x"], /invalid blue-port x: must be a port number/],
            [
                "green-port",
                [...release, "--green-port", "18001"],
                /public-port, blue-port and green-port must be three different ports/,
            ],
            [
                "env-file",
                [...release, "--env-file", "app.env"],
                /invalid env-file app\.env: must be an absolute path/,
            ],
            [
                "health-path",
                [...release, "--health-path", "health"],
                /invalid health-path health: must be a URL path/,
            ],
            [
                "health-successes",
                [...release, "--health-successes", "101"],
                /invalid health-successes 101: must be 1-100/,
            ],
            [
                "health-interval-ms",
                [...release, "--health-interval-ms", "60001"],
                /invalid health-interval-ms 60001: must be 1-60000/,
            ],
            [
                "health-timeout",
                [...release, "--health-timeout", "0"],
                /invalid health-timeout 0: must be 1-3600/,
            ],
            [
                "keep-releases",
                [...release, "--keep-releases", "101"],
                /invalid keep-releases 101: must be 1-100/,
            ],
            [
                "smoke-path",
                [...release, "--smoke-path", "/x`id`"],
                /invalid smoke-path \/x\\`id\\`: must be a URL path/,
            ],
            ["a missing value", [...release, "--keep-releases"], /option --keep-releases needs a value/],
            [
                "an option of another command",
                ["status", "--fresh"],
                /option --fresh needs a value|unknown option --fresh for status/,
            ],
            ["an unknown option", [...release, "--memroy", "1g"], /unknown option --memroy for release/],
            [
                "a missing required option",
                ["release", "--image", IMAGE],
                /release needs --image, --version, --digest, --proxy-image, --memory and --pids-limit/,
            ],
            ["an unknown command", ["deploy"], /unknown command deploy/],
        ];
        for (const [what, args, message] of cases) {
            it(`${what}: exit 2 with a message that names it, before any docker call`, () => {
                const r = host.run(args);
                assert.strictEqual(r.code, 2, `${r.stderr}`);
                assert.match(r.stderr, message);
                assert.deepStrictEqual(r.calls, []);
            });
        }

        for (const missing of ["docker", "curl", "socat", "flock"]) {
            it(`a host without ${missing}: exit 8, naming it and the package to install`, () => {
                const bare = new Host({ without: missing });
                try {
                    const r = bare.run(release);
                    assert.strictEqual(r.code, 8, r.stderr);
                    assert.match(
                        r.stderr,
                        new RegExp(
                            `this host lacks '${missing}', which releases need \\(Debian: apt-get install docker\\.io curl socat util-linux coreutils\\)`,
                        ),
                    );
                } finally {
                    bare.cleanup();
                }
            });
        }

        it("a Docker Engine it cannot reach: exit 8, before anything else", () => {
            fs.writeFileSync(path.join(host.state, "engine-down"), "");
            const r = host.run(release);
            assert.strictEqual(r.code, 8, r.stderr);
            assert.match(
                r.stderr,
                /cannot reach the Docker Engine as \S+: is dockerd running and is \S+ in the docker group\?/,
            );
            assert.deepStrictEqual(
                r.calls.map((c) => c.slice(0, 2)),
                [["docker", "info"]],
            );
        });

        it("a corrupt state file: exit 7, naming the file", () => {
            host.push(D1);
            fs.mkdirSync(host.stateDir(), { recursive: true });
            fs.writeFileSync(path.join(host.stateDir(), "active"), "purple\n");
            const r = host.release("1.0.0", D1);
            assert.strictEqual(r.code, 7, r.stderr);
            assert.match(r.stderr, /corrupt state file .*\/active: purple/);
        });
    });
});
