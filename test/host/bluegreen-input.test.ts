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
import { digest, freshHostPerTest, Host, IMAGE, releaseArgv } from "./sandbox";

const D1 = digest("1");

describe("host tier: bluegreen against stand-in docker, curl, socat and flock", function () {
    let host: Host;
    freshHostPerTest(this, (h) => (host = h));

    describe("bad input and a host that lacks something", () => {
        const release = releaseArgv("1.0.0", D1);
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
