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
import { hostDefaults } from "../../components/deploy/host-facts";
import { callsOf, digest, Host, IMAGE, PROXY_IMAGE, freshHostPerTest } from "./sandbox";

const D1 = digest("1");
const D2 = digest("2");
const D3 = digest("3");
const D4 = digest("4");

describe("host tier: bluegreen against stand-in docker, curl, socat and flock", function () {
    let host: Host;
    freshHostPerTest(this, (h) => (host = h));

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
                    (c) =>
                        c.at(-1) ===
                        "<set weight app/blue 100; set server app/blue state ready; set server app/green state maint",
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

        it("applies host-facts.ts's defaults to every option not given", () => {
            host.push(D1);
            const d = hostDefaults;
            const r = host.run([
                ...["release", "--image", IMAGE, "--version", "1.0.0", "--digest", D1],
                ...["--proxy-image", PROXY_IMAGE, "--memory", "256m", "--pids-limit", "128"],
            ]);
            assert.strictEqual(r.code, 0, r.stderr);
            const [app] = callsOf(r.calls, "docker", "run", "-d", "--name", `${d.instance}-blue`);
            assert.ok(
                app.includes(`127.0.0.1:${d.bluePort}:${d.appPort}`) && app.includes(`PORT=${d.appPort}`),
                app.join(" "),
            );
            const cfg = fs.readFileSync(path.join(host.stateDir(d.instance), "proxy", "haproxy.cfg"), "utf8");
            assert.match(cfg, new RegExp(`bind ${d.bind}:${d.publicPort}\n`));
            assert.match(cfg, new RegExp(`server green 127\\.0\\.0\\.1:${d.greenPort} disabled\n`));
            const probes = callsOf(r.calls, "curl").filter(
                (c) => c.at(-1) === `http://127.0.0.1:${d.bluePort}${d.health.path}`,
            );
            assert.strictEqual(probes.length, d.health.successes);
            const smoke = callsOf(r.calls, "curl").filter((c) =>
                c.at(-1)?.startsWith(`http://127.0.0.1:${d.publicPort}/`),
            );
            assert.deepStrictEqual(
                smoke.map((c) => c.at(-1)),
                d.smokePaths.map((p) => `http://127.0.0.1:${d.publicPort}${p}`),
            );
            assert.deepStrictEqual(callsOf(r.calls, "flock"), [
                ["flock", "-w", String(d.lockTimeoutSeconds), "9"],
            ]);
            // Two intervals between three probes.
            assert.ok(r.seconds >= (2 * d.health.intervalMs) / 1000, `took ${r.seconds}s`);
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
});
