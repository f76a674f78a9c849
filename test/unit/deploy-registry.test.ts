/**
 * Image references and digest lookups (components/deploy/registry.ts).
 *
 * The parsing follows Docker's own rule (github.com/distribution/reference, normalize.go,
 * splitDockerDomain). The lookups run against a registry on loopback that answers as the registry
 * HTTP API and its token authentication do (https://distribution.github.io/distribution/spec/api/,
 * https://distribution.github.io/distribution/spec/auth/token/): Docker Hub's registry answers an
 * anonymous manifest request with 401 and `WWW-Authenticate: Bearer realm="https://auth.docker.io/token",
 * service="registry.docker.io",scope="repository:<path>:pull"`; the token service returns
 * {"token","access_token"}; the manifest request with the token gets the Docker-Content-Digest header.
 * The real registry (Debian's docker-registry) is queried in test/integration/registry.test.ts.
 */
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import {
    dockerConfigCredentials,
    parseImageRepository,
    resolveDigest,
} from "../../components/deploy/registry";
import { registryOf } from "../../components/workflows/settings";

describe("deploy: image references", () => {
    const hub = (p: string) => ({
        registry: "docker.io",
        dockerHub: true,
        apiHost: "registry-1.docker.io",
        apiBase: "https://registry-1.docker.io",
        path: p,
    });
    for (const [image, expected] of [
        ["docker.io/acme/web-app", hub("acme/web-app")],
        ["acme/web-app", hub("acme/web-app")],
        ["library/haproxy", hub("library/haproxy")],
        ["haproxy", hub("library/haproxy")],
        ["docker.io/haproxy", hub("library/haproxy")],
        ["index.docker.io/acme/web-app", hub("acme/web-app")],
        ["registry-1.docker.io/acme/web-app", hub("acme/web-app")],
        // Three components without a dot: still Docker Hub (the docker provider would take "acme" for a host).
        ["acme/team/web-app", hub("acme/team/web-app")],
        [
            "ghcr.io/acme/web-app",
            {
                registry: "ghcr.io",
                dockerHub: false,
                apiHost: "ghcr.io",
                apiBase: "https://ghcr.io",
                path: "acme/web-app",
            },
        ],
        [
            "registry.example.com:8443/team/app",
            {
                registry: "registry.example.com:8443",
                dockerHub: false,
                apiHost: "registry.example.com:8443",
                apiBase: "https://registry.example.com:8443",
                path: "team/app",
            },
        ],
        [
            "localhost:5000/web-app",
            {
                registry: "localhost:5000",
                dockerHub: false,
                apiHost: "localhost:5000",
                apiBase: "http://localhost:5000",
                path: "web-app",
            },
        ],
        [
            "127.0.0.1:5555/bluegreen-test/app",
            {
                registry: "127.0.0.1:5555",
                dockerHub: false,
                apiHost: "127.0.0.1:5555",
                apiBase: "http://127.0.0.1:5555",
                path: "bluegreen-test/app",
            },
        ],
    ] as const) {
        it(`${image}: ${expected.apiBase}/v2/${expected.path}/`, () => {
            assert.deepStrictEqual(parseImageRepository(image), expected);
        });
    }

    it("refuses what is not an image repository", () => {
        for (const bad of [
            "Docker.io/acme/app",
            "acme/app:1.0",
            "acme/app@sha256:ab",
            "",
            "acme//app",
            "a b",
        ]) {
            assert.throws(() => parseImageRepository(bad), /invalid image/, bad);
        }
    });

    it("docker login in the workflows names the same registry (none for Docker Hub)", () => {
        assert.strictEqual(registryOf("docker.io/acme/web-app"), undefined);
        assert.strictEqual(registryOf("index.docker.io/acme/web-app"), undefined);
        assert.strictEqual(registryOf("acme/team/web-app"), undefined);
        assert.strictEqual(registryOf("ghcr.io/acme/web-app"), "ghcr.io");
        assert.strictEqual(registryOf("localhost:5000/web-app"), "localhost:5000");
    });
});

/** A registry on loopback that authenticates like Docker Hub (token) or a basic-auth registry. */
class FakeRegistry {
    readonly requests: string[] = [];
    private server?: http.Server;
    port = 0;
    /** Manifests by "path:tag". */
    manifests = new Map<string, Buffer>();
    /** "token": Docker Hub's flow; "basic": user/password on every request; "none": open. */
    auth: "token" | "basic" | "none" = "token";
    /** Credentials the token service or basic auth accepts; without, anonymous pulls are allowed. */
    user?: { username: string; password: string };
    /** Whether manifest responses carry Docker-Content-Digest. */
    digestHeader = true;

    async start(): Promise<void> {
        this.server = http.createServer((req, res) => this.handle(req, res));
        await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
        this.port = (this.server!.address() as { port: number }).port;
    }
    stop(): Promise<void> {
        return new Promise((r) => this.server!.close(() => r()));
    }
    get host(): string {
        return `127.0.0.1:${this.port}`;
    }

    private credentialsOk(header: string | undefined): boolean {
        if (!this.user) return true;
        const expected = `Basic ${Buffer.from(`${this.user.username}:${this.user.password}`).toString("base64")}`;
        return header === expected;
    }

    private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
        const url = new URL(req.url!, `http://${this.host}`);
        this.requests.push(`${req.method} ${url.pathname}${url.search}`);
        if (url.pathname === "/token") {
            const scope = url.searchParams.get("scope") ?? "";
            if (
                url.searchParams.get("service") !== "registry.docker.io" ||
                !/^repository:[a-z0-9/._-]+:pull$/.test(scope)
            ) {
                res.writeHead(400).end();
                return;
            }
            if (!this.credentialsOk(req.headers.authorization)) {
                res.writeHead(401).end('{"details":"incorrect username or password"}');
                return;
            }
            const token = `token-for-${scope}`;
            res.writeHead(200, { "Content-Type": "application/json" });
            res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
            return;
        }
        const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
        if (!m) {
            res.writeHead(404).end();
            return;
        }
        const [, repoPath, tag] = m;
        if (this.auth === "token") {
            if (req.headers.authorization !== `Bearer token-for-repository:${repoPath}:pull`) {
                res.writeHead(401, {
                    "WWW-Authenticate": `Bearer realm="http://${this.host}/token",service="registry.docker.io",scope="repository:${repoPath}:pull"`,
                }).end();
                return;
            }
        } else if (this.auth === "basic" && !this.credentialsOk(req.headers.authorization)) {
            res.writeHead(401, { "WWW-Authenticate": 'Basic realm="Registry Realm"' }).end();
            return;
        }
        const body = this.manifests.get(`${repoPath}:${tag}`);
        const accept = String(req.headers.accept ?? "");
        if (!body || !accept.includes("application/vnd.oci.image.index.v1+json")) {
            res.writeHead(404).end();
            return;
        }
        const headers: Record<string, string> = {
            "Content-Type": "application/vnd.oci.image.index.v1+json",
            "Content-Length": String(body.length),
        };
        if (this.digestHeader) headers["Docker-Content-Digest"] = sha256(body);
        res.writeHead(200, headers);
        res.end(req.method === "HEAD" ? undefined : body);
    }
}

const sha256 = (b: Buffer) => `sha256:${crypto.createHash("sha256").update(b).digest("hex")}`;

describe("deploy: digest lookup over the registry HTTP API", () => {
    const registry = new FakeRegistry();
    const manifest = Buffer.from(
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}',
    );
    let saved: string | undefined;

    before(async () => {
        await registry.start();
        saved = process.env.DOCKER_CONFIG;
        // No docker login of this machine's takes part, unless a test writes one.
        process.env.DOCKER_CONFIG = fs.mkdtempSync(path.join(os.tmpdir(), "docker-config-"));
    });
    after(async () => {
        await registry.stop();
        if (saved === undefined) delete process.env.DOCKER_CONFIG;
        else process.env.DOCKER_CONFIG = saved;
    });
    beforeEach(() => {
        registry.requests.length = 0;
        registry.manifests = new Map([["acme/web-app:1.4.2", manifest]]);
        registry.auth = "token";
        registry.user = undefined;
        registry.digestHeader = true;
    });

    it("gets an anonymous pull token as Docker Hub asks, then the manifest's digest", async () => {
        const digest = await resolveDigest(`${registry.host}/acme/web-app`, "1.4.2");
        assert.strictEqual(digest, sha256(manifest));
        assert.deepStrictEqual(registry.requests, [
            "HEAD /v2/acme/web-app/manifests/1.4.2",
            "GET /token?service=registry.docker.io&scope=repository%3Aacme%2Fweb-app%3Apull",
            "HEAD /v2/acme/web-app/manifests/1.4.2",
        ]);
    });

    it("a private repository: the token service gets the docker login's credentials", async () => {
        registry.user = { username: "ci", password: "s3cret" };
        await assert.rejects(
            resolveDigest(`${registry.host}/acme/web-app`, "1.4.2"),
            /answered 401 \(no docker login/,
        );
        const digest = await resolveDigest(`${registry.host}/acme/web-app`, "1.4.2", {
            credentials: registry.user,
        });
        assert.strictEqual(digest, sha256(manifest));
        await assert.rejects(
            resolveDigest(`${registry.host}/acme/web-app`, "1.4.2", {
                credentials: { username: "ci", password: "wrong" },
            }),
            /answered 401 \(check the docker login/,
        );
    });

    it("reads the credentials docker login stored for the registry", async () => {
        registry.user = { username: "ci", password: "s3cret" };
        fs.writeFileSync(
            path.join(process.env.DOCKER_CONFIG!, "config.json"),
            JSON.stringify({
                auths: { [registry.host]: { auth: Buffer.from("ci:s3cret").toString("base64") } },
            }),
        );
        try {
            assert.deepStrictEqual(
                dockerConfigCredentials(parseImageRepository(`${registry.host}/acme/web-app`)),
                {
                    username: "ci",
                    password: "s3cret",
                },
            );
            assert.strictEqual(
                await resolveDigest(`${registry.host}/acme/web-app`, "1.4.2"),
                sha256(manifest),
            );
        } finally {
            fs.rmSync(path.join(process.env.DOCKER_CONFIG!, "config.json"));
        }
    });

    it("a basic-auth registry gets the credentials on the manifest request", async () => {
        registry.auth = "basic";
        registry.user = { username: "ci", password: "s3cret" };
        await assert.rejects(resolveDigest(`${registry.host}/acme/web-app`, "1.4.2"), /requires a login/);
        assert.strictEqual(
            await resolveDigest(`${registry.host}/acme/web-app`, "1.4.2", { credentials: registry.user }),
            sha256(manifest),
        );
    });

    it("without a Docker-Content-Digest header, takes the sha256 of the manifest itself", async () => {
        registry.auth = "none";
        registry.digestHeader = false;
        assert.strictEqual(await resolveDigest(`${registry.host}/acme/web-app`, "1.4.2"), sha256(manifest));
        assert.deepStrictEqual(registry.requests, [
            "HEAD /v2/acme/web-app/manifests/1.4.2",
            "GET /v2/acme/web-app/manifests/1.4.2",
        ]);
    });

    it("a tag that does not exist: an error naming the reference and the fix", async () => {
        await assert.rejects(
            resolveDigest(`${registry.host}/acme/web-app`, "9.9.9"),
            /cannot resolve 127\.0\.0\.1:\d+\/acme\/web-app:9\.9\.9 .*no tag 9\.9\.9 in acme\/web-app \(404\).*pulumi config set digest/,
        );
    });

    it("a registry that does not answer: an error, not a hang", async () => {
        const closed = new FakeRegistry();
        await closed.start();
        const host = closed.host;
        await closed.stop();
        await assert.rejects(
            resolveDigest(`${host}/acme/web-app`, "1.4.2", { timeoutMs: 2000 }),
            /ECONNREFUSED/,
        );
    });

    it("refuses a tag that is not one before any request", async () => {
        await assert.rejects(resolveDigest(`${registry.host}/acme/web-app`, "1.0/../x"), /invalid tag/);
        assert.deepStrictEqual(registry.requests, []);
    });
});
