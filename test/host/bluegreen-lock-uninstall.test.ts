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
import { callsOf, digest, Host, IMAGE, PROXY_IMAGE, freshHostPerTest } from "./sandbox";

const D1 = digest("1");
const D2 = digest("2");

describe("host tier: bluegreen against stand-in docker, curl, socat and flock", function () {
    let host: Host;
    freshHostPerTest(this, (h) => (host = h));

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
});
