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
import { callsOf, digest, Host, IMAGE, freshHostPerTest } from "./sandbox";

const D1 = digest("1");
const D2 = digest("2");

describe("host tier: bluegreen against stand-in docker, curl, socat and flock", function () {
    let host: Host;
    freshHostPerTest(this, (h) => (host = h));

    describe("release failures", () => {
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
                .filter((i) => i?.startsWith("<set"));
            assert.deepStrictEqual(switches, [
                "<set weight app/green 100; set server app/green state ready; set server app/blue state maint",
                "<set weight app/blue 100; set server app/blue state ready; set server app/green state maint",
                // Then the new colour is drained before it stops (bluegreen-drain.test.ts).
                "<set server app/green state drain",
                "<set server app/green state maint",
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

        it("a proxy that refuses the switch fails the release, exit 7", () => {
            host.push(D1);
            fs.writeFileSync(path.join(host.state, "proxy-refuses"), "");
            const r = host.release("1.0.0", D1);
            assert.strictEqual(r.code, 7, r.stderr);
            assert.match(
                r.stderr,
                /proxy refused 'set weight app\/blue 100; set server app\/blue state ready; set server app\/green state maint': No such server\./,
            );
            assert.strictEqual(host.container("app-blue"), undefined);
        });
    });
});
