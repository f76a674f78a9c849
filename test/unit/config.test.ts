import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import {
    ConfigError,
    crossFieldRules,
    DEFAULT_PROXY_IMAGE,
    parseConfig,
    RawConfig,
    readStackFile,
    secretTable,
} from "../../config";
import { stackCredentials } from "../../components/credentials";
import { canaryDefaults } from "../../components/deploy/orchestrator/canary-settings";
import { configSchema } from "../../config/schema";
import { testSecrets } from "../../testkit/mocks";

type Objects = Record<string, Record<string, unknown>>;

/**
 * The committed stack file with test secrets, changed by `edit`: it receives the object-valued keys
 * (github, environment, deploy, workflows) to change in place, and the raw values to change.
 */
function stackWith(
    stack: string,
    edit: (objects: Objects, values: Record<string, string>, secretKeys: Set<string>) => void,
): RawConfig {
    const raw = readStackFile(stack, { overrides: testSecrets(stack) });
    const values = { ...raw.values };
    const secretKeys = new Set(raw.secretKeys);
    const objects: Objects = {};
    for (const key of ["github", "environment", "deploy", "workflows"]) {
        const full = `cicd-pipeline:${key}`;
        if (values[full] !== undefined) objects[key] = JSON.parse(values[full]);
    }
    const original = { ...values };
    edit(objects, values, secretKeys);
    for (const [key, value] of Object.entries(objects)) {
        const full = `cicd-pipeline:${key}`;
        // Keys the edit removed or replaced as raw values stay as the edit left them.
        if (values[full] !== undefined && values[full] === original[full])
            values[full] = JSON.stringify(value);
    }
    return { ...raw, values, secretKeys };
}

/** Parses and returns the error's problems; fails the test when the config is accepted. */
function problemsOf(raw: RawConfig): string[] {
    try {
        parseConfig(raw);
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
        return e.problems;
    }
    assert.fail("the configuration was accepted");
}

function assertRejected(raw: RawConfig, key: string, ...fragments: string[]): void {
    const problems = problemsOf(raw);
    const match = problems.find((p) => p.startsWith(`${key}:`));
    assert.ok(match, `no problem names ${key}; got:\n${problems.join("\n")}`);
    for (const f of fragments) assert.ok(match.includes(f), `"${match}" does not mention "${f}"`);
}

describe("config", () => {
    describe("valid stack files", () => {
        it("accepts production without reviewers where the plan has no environment protection", () => {
            const raw = stackWith("production", (o) => {
                o.github.plan = "team";
                o.github.visibility = "private";
                delete o.environment.reviewers;
            });
            const config = parseConfig(raw);
            assert.deepStrictEqual(config.github?.features, {
                rulesets: true,
                environments: true,
                environmentProtection: false,
            });
        });

        it("lets repository administrators manage release tags when releaseManagers is absent", () => {
            const raw = stackWith("staging", (o) => delete o.github.releaseManagers);
            assert.deepStrictEqual(parseConfig(raw).github?.releaseManagers, { roles: ["admin"], teams: [] });
        });

        it("parses the production stack into one typed object", () => {
            const config = parseConfig(readStackFile("production", { overrides: testSecrets("production") }));
            assert.strictEqual(config.github?.owner, "acme");
            assert.strictEqual(config.github?.ownsRepositoryObjects, true);
            assert.strictEqual(config.github?.requiredApprovals, 2);
            assert.deepStrictEqual(config.environment.deployFrom, { branches: [], tags: ["v*"] });
            assert.deepStrictEqual(config.environment.reviewers, {
                users: ["alice"],
                teams: ["release-managers"],
            });
            assert.strictEqual(config.deploy?.hosts.length, 2);
            assert.strictEqual(config.deploy?.hosts[0].port, 22);
            assert.strictEqual(config.release.version, "1.4.2");
        });

        it("fills documented defaults", () => {
            const raw = stackWith("staging", (o) => {
                delete o.github.branches;
                delete o.github.requiredApprovals;
                delete o.deploy.health;
                delete o.workflows;
            });
            const config = parseConfig(raw);
            assert.deepStrictEqual(config.github?.branches, { main: "main", develop: "develop" });
            assert.strictEqual(config.github?.requiredApprovals, 1);
            assert.deepStrictEqual(config.deploy?.health, {
                path: "/health",
                successes: 3,
                intervalMs: 500,
                timeoutSeconds: 60,
            });
            assert.strictEqual(config.workflows.pythonVersion, "3.12");
            assert.strictEqual(config.deploy?.proxyImage, DEFAULT_PROXY_IMAGE);
            assert.match(DEFAULT_PROXY_IMAGE, /^haproxy:2\.6@sha256:[a-f0-9]{64}$/, "pinned by digest");
            assert.deepStrictEqual(config.deploy?.limits, { memory: "512m", pids: 512 });
            assert.strictEqual(config.deploy?.allowUnpinnedProxyImage, false);
            assert.strictEqual(config.environment.preventSelfReview, true);
            assert.strictEqual(config.environment.adminsBypass, false);
        });

        it("marks the stack that owns repository-wide objects, and only that one", () => {
            const staging = parseConfig(readStackFile("staging", { overrides: testSecrets("staging") }));
            assert.strictEqual(staging.github?.ownsRepositoryObjects, false);
        });

        it("keeps every secret an Output marked secret", async () => {
            const config = parseConfig(readStackFile("production", { overrides: testSecrets("production") }));
            const { isSecret } = await import("@pulumi/pulumi");
            for (const [key, value] of Object.entries(config.secrets)) {
                assert.ok(await isSecret(value!), `${key} is not secret`);
            }
        });

        it("parses the committed local stack: no GitHub side, its own instance on loopback", () => {
            const config = parseConfig(readStackFile("local"), { requireSecrets: false });
            assert.strictEqual(config.github, undefined);
            assert.strictEqual(config.deploy?.instance, "local");
            assert.strictEqual(config.deploy?.bind, "127.0.0.1");
            assert.strictEqual(config.deploy?.resolveDigest, false);
        });

        it("needs no secrets to render offline", () => {
            const config = parseConfig(readStackFile("production"), { requireSecrets: false });
            assert.deepStrictEqual(config.secrets, {});
        });
    });

    describe("bad configurations are rejected, naming the key and the fix", () => {
        it("a missing secret, with the command that sets it", () => {
            const raw = stackWith("production", (_o, v) => delete v["cicd-pipeline:dockerPassword"]);
            assertRejected(
                raw,
                "cicd-pipeline:dockerPassword",
                "is required",
                "pulumi config set --secret -s production dockerPassword",
            );
        });

        it("a missing SSH key, read from a file", () => {
            const raw = stackWith("staging", (_o, v) => delete v["cicd-pipeline:deploySshKey"]);
            assertRejected(
                raw,
                "cicd-pipeline:deploySshKey",
                "pulumi config set --secret -s staging deploySshKey <",
            );
        });

        it("a plaintext value where a secret is required", () => {
            const raw = stackWith("production", (_o, _v, secret) =>
                secret.delete("cicd-pipeline:pulumiConfigPassphrase"),
            );
            assertRejected(
                raw,
                "cicd-pipeline:pulumiConfigPassphrase",
                "plaintext",
                "pulumi config rm -s production pulumiConfigPassphrase",
                "pulumi config set --secret",
            );
        });

        it("a reviewer given as @bob", () => {
            const raw = stackWith("production", (o) => (o.environment.reviewers = { users: ["@bob"] }));
            assertRejected(raw, "cicd-pipeline:environment.reviewers.users[0]", "without @");
        });

        it("a team given with its organization", () => {
            const raw = stackWith(
                "production",
                (o) => (o.environment.reviewers = { teams: ["acme/platform"] }),
            );
            assertRejected(raw, "cicd-pipeline:environment.reviewers.teams[0]", "slug");
        });

        it("production without any required reviewer", () => {
            const raw = stackWith("production", (o) => (o.environment.reviewers = { users: [], teams: [] }));
            assertRejected(raw, "cicd-pipeline:environment.reviewers", "at least one required reviewer");
        });

        it("an empty repository name", () => {
            const raw = stackWith("staging", (o) => (o.github.repository = ""));
            assertRejected(raw, "cicd-pipeline:github.repository", "repository name");
        });

        it("zero required reviews", () => {
            const raw = stackWith("production", (o) => (o.github.requiredApprovals = 0));
            assertRejected(raw, "cicd-pipeline:github.requiredApprovals", "at least 1");
        });

        it("a tag pattern that is not a pattern", () => {
            const raw = stackWith("production", (o) => (o.environment.deployFrom = { tags: ["^v.*$"] }));
            assertRejected(raw, "cicd-pipeline:environment.deployFrom.tags[0]", "tag pattern");
        });

        it("a tag pattern with an unclosed bracket", () => {
            const raw = stackWith("production", (o) => (o.environment.deployFrom = { tags: ["v[0-9"] }));
            assertRejected(raw, "cicd-pipeline:environment.deployFrom.tags[0]", "balanced");
        });

        it("an environment nobody may deploy from", () => {
            const raw = stackWith("staging", (o) => (o.environment.deployFrom = {}));
            assertRejected(raw, "cicd-pipeline:environment.deployFrom", "at least one branch or tag");
        });

        it("an unknown top-level key", () => {
            const raw = stackWith("staging", (_o, v) => (v["cicd-pipeline:enviroment"] = "{}"));
            assertRejected(
                raw,
                "cicd-pipeline:enviroment",
                "unknown key",
                "pulumi config rm -s staging enviroment",
            );
        });

        it("an unknown nested key", () => {
            const raw = stackWith("staging", (o) => (o.github.requiredApprovalCount = 1));
            assertRejected(raw, "cicd-pipeline:github.requiredApprovalCount", "unknown key");
        });

        it("a missing environment", () => {
            const raw = stackWith("staging", (_o, v) => delete v["cicd-pipeline:environment"]);
            assertRejected(raw, "cicd-pipeline:environment", "is required");
        });

        it("a version with shell metacharacters", () => {
            const raw = stackWith("staging", (_o, v) => (v["cicd-pipeline:version"] = "1.0;rm -rf /"));
            assertRejected(raw, "cicd-pipeline:version", "image tag");
        });

        it("an image reference with a tag or uppercase letters", () => {
            const raw = stackWith("staging", (o) => (o.deploy.image = "Docker.io/Acme/web-app:latest"));
            assertRejected(raw, "cicd-pipeline:deploy.image", "without tag");
        });

        it("a proxy image without a digest, unless the stack opts out explicitly", () => {
            const raw = stackWith("staging", (o) => (o.deploy.proxyImage = "haproxy:2.6"));
            assertRejected(
                raw,
                "cicd-pipeline:deploy.proxyImage",
                "not pinned by digest",
                "docker buildx imagetools inspect",
                "deploy.allowUnpinnedProxyImage: true",
            );
            const optedOut = stackWith("staging", (o) => {
                o.deploy.proxyImage = "haproxy:2.6";
                o.deploy.allowUnpinnedProxyImage = true;
            });
            assert.strictEqual(parseConfig(optedOut).deploy?.proxyImage, "haproxy:2.6");
            const pinned = `registry.example.com/proxy/haproxy:2.6@sha256:${"c".repeat(64)}`;
            const custom = stackWith("staging", (o) => (o.deploy.proxyImage = pinned));
            assert.strictEqual(parseConfig(custom).deploy?.proxyImage, pinned);
        });

        for (const [what, limits, key, fragment] of [
            ["a memory limit without a unit", { memory: "512" }, "limits.memory", "such as 512m or 2g"],
            ["a memory limit below Docker's minimum", { memory: "4m" }, "limits.memory", "at least 6m"],
            ["a memory limit with a shell command", { memory: "1g;reboot" }, "limits.memory", "512m or 2g"],
            ["a pids limit too small to start anything", { pids: 8 }, "limits.pids", "at least 16"],
            ["an unknown limit", { cpus: 2 }, "limits.cpus", "unknown key"],
        ] as const) {
            it(`app container limits: ${what}`, () => {
                const raw = stackWith("staging", (o) => (o.deploy.limits = limits));
                assertRejected(raw, `cicd-pipeline:deploy.${key}`, fragment);
            });
        }

        it("deploy.strategy: blue-green by default, canary with the default steps and thresholds", () => {
            assert.strictEqual(
                parseConfig(stackWith("staging", () => undefined)).deploy?.strategy,
                "blue-green",
            );
            assert.strictEqual(parseConfig(stackWith("staging", () => undefined)).deploy?.canary, undefined);
            const canary = parseConfig(stackWith("staging", (o) => (o.deploy.strategy = "canary"))).deploy;
            assert.deepStrictEqual(canary?.canary, canaryDefaults);
            const own = parseConfig(
                stackWith("staging", (o) => {
                    o.deploy.strategy = "canary";
                    o.deploy.canary = { steps: [{ weight: 10, bakeSeconds: 30 }], minRequests: 500 };
                }),
            ).deploy?.canary;
            assert.deepStrictEqual(own?.steps, [{ weight: 10, bakeSeconds: 30 }]);
            assert.strictEqual(own?.minRequests, 500);
            assert.strictEqual(own?.maxErrorRatio, canaryDefaults.maxErrorRatio);
        });

        for (const [what, edit, key, fragment] of [
            ["an unknown strategy", { strategy: "rolling" }, "strategy", '"blue-green" or "canary"'],
            [
                "canary settings under blue-green",
                { canary: { minRequests: 10 } },
                "canary",
                "Fix: set deploy.strategy: canary, or remove deploy.canary",
            ],
            [
                "a step at 100 %",
                { strategy: "canary", canary: { steps: [{ weight: 100, bakeSeconds: 60 }] } },
                "canary.steps[0].weight",
                "from 1 to 99",
            ],
            [
                "steps whose weights do not grow",
                {
                    strategy: "canary",
                    canary: {
                        steps: [
                            { weight: 50, bakeSeconds: 60 },
                            { weight: 5, bakeSeconds: 60 },
                        ],
                    },
                },
                "canary.steps",
                "weights must grow",
            ],
            [
                "a bake of no time",
                { strategy: "canary", canary: { steps: [{ weight: 5, bakeSeconds: 0 }] } },
                "canary.steps[0].bakeSeconds",
                "from 1 to 3600",
            ],
            [
                "an error ratio in percent",
                { strategy: "canary", canary: { maxErrorRatio: 5 } },
                "canary.maxErrorRatio",
                "from 0 to 1",
            ],
            [
                "a latency ratio below 1",
                { strategy: "canary", canary: { maxLatencyRatio: 0.5 } },
                "canary.maxLatencyRatio",
                "from 1 to 100",
            ],
            [
                "no requests needed",
                { strategy: "canary", canary: { minRequests: 0 } },
                "canary.minRequests",
                "from 1 to",
            ],
            ["a negative drain", { drainSeconds: -1 }, "drainSeconds", "from 0 to 3600"],
            [
                "a stop timeout of an hour",
                { stopTimeoutSeconds: 3600 },
                "stopTimeoutSeconds",
                "from 0 to 600",
            ],
        ] as const) {
            it(`the release: ${what}`, () => {
                const raw = stackWith("staging", (o) => Object.assign(o.deploy, edit));
                assertRejected(raw, `cicd-pipeline:deploy.${key}`, fragment);
            });
        }

        it("a host key that is not a public key", () => {
            const raw = stackWith("staging", (o) => {
                (o.deploy.hosts as Record<string, unknown>[])[0].hostKey = "staging.example.com ssh-ed25519";
            });
            assertRejected(raw, "cicd-pipeline:deploy.hosts[0].hostKey", "ssh-keyscan");
        });

        it("an ssh-rsa host key, which the command provider cannot verify against OpenSSH 8.8+", () => {
            const raw = stackWith("staging", (o) => {
                (o.deploy.hosts as Record<string, unknown>[])[0].hostKey =
                    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC89VYFMFT1tg0ksm/KPbSIH7trYYeZrArnasGbz14AJ83dPDVz";
            });
            assertRejected(
                raw,
                "cicd-pipeline:deploy.hosts[0].hostKey",
                "ssh-rsa",
                "ed25519",
                "ssh-keyscan -t ed25519",
            );
        });

        it("an SSH key that is not a private key", () => {
            const raw = stackWith(
                "staging",
                (_o, v) => (v["cicd-pipeline:deploySshKey"] = "ssh-ed25519 AAAA"),
            );
            assertRejected(raw, "cicd-pipeline:deploySshKey", "not a private key");
        });

        it("an environment URL that is not http(s)", () => {
            const raw = stackWith("staging", (o) => (o.environment.url = "staging.example.com"));
            assertRejected(raw, "cicd-pipeline:environment.url", "https://");
        });

        it("a repository owner given as a URL", () => {
            const raw = stackWith("staging", (o) => (o.github.owner = "https://github.com/acme"));
            assertRejected(raw, "cicd-pipeline:github.owner", "no @, no URL");
        });

        it("a Slack webhook that is not a Slack URL", () => {
            const raw = stackWith(
                "production",
                (_o, v) => (v["cicd-pipeline:slackWebhook"] = "http://example.com/x"),
            );
            assertRejected(raw, "cicd-pipeline:slackWebhook", "hooks.slack.com");
        });

        it("an object key given as a plain string", () => {
            const raw = stackWith("staging", (_o, v) => (v["cicd-pipeline:github"] = "acme/web-app"));
            assertRejected(raw, "cicd-pipeline:github", "must be an object");
        });

        it("two hosts with one name", () => {
            const raw = stackWith("production", (o) => {
                const hosts = o.deploy.hosts as Record<string, unknown>[];
                hosts[1].name = hosts[0].name;
            });
            assertRejected(raw, "cicd-pipeline:deploy.hosts", "unique");
        });

        it("an environment named differently from its stack", () => {
            const raw = stackWith("production", (o) => (o.environment.name = "prod"));
            assertRejected(raw, "cicd-pipeline:environment.name", 'must be the stack\'s name, "production"');
        });

        it("an environment released from tags without a reviewer", () => {
            const raw = stackWith("staging", (o) => (o.environment.deployFrom = { tags: ["v*"] }));
            assertRejected(raw, "cicd-pipeline:environment.reviewers", "at least one required reviewer");
        });

        it("a private repository on GitHub Free, which has no environments or rulesets", () => {
            const raw = stackWith("production", (o) => {
                o.github.plan = "free";
                o.github.visibility = "private";
            });
            assertRejected(raw, "cicd-pipeline:github.plan", "no environments", "make the repository public");
        });

        it("an internal repository outside an enterprise", () => {
            const raw = stackWith("production", (o) => {
                o.github.plan = "team";
                o.github.visibility = "internal";
            });
            assertRejected(raw, "cicd-pipeline:github.visibility", "GitHub Enterprise");
        });

        it("reviewers or a wait timer where the plan has no environment protection", () => {
            const raw = stackWith("production", (o) => {
                o.github.plan = "team";
                o.github.visibility = "private";
                o.environment.waitTimerMinutes = 5;
            });
            assertRejected(raw, "cicd-pipeline:environment.reviewers", "422", "remove environment.reviewers");
            assertRejected(raw, "cicd-pipeline:environment.waitTimerMinutes", "422");
        });

        it("a plan or visibility GitHub does not have", () => {
            assertRejected(
                stackWith("staging", (o) => (o.github.plan = "business")),
                "cicd-pipeline:github.plan",
                "free, pro, team or enterprise",
            );
            assertRejected(
                stackWith("staging", (o) => (o.github.visibility = "secret")),
                "cicd-pipeline:github.visibility",
                "public, private or internal",
            );
        });

        it("release managers that nobody is", () => {
            assertRejected(
                stackWith("production", (o) => (o.github.releaseManagers = { roles: [], teams: [] })),
                "cicd-pipeline:github.releaseManagers",
                "at least one repository role or team",
            );
            assertRejected(
                stackWith("production", (o) => (o.github.releaseManagers = { roles: ["owner"] })),
                "cicd-pipeline:github.releaseManagers.roles[0]",
                "admin, maintain, write",
            );
        });

        it("a GitHub token in the stack config, secret or not, naming how to run with one's own token", () => {
            for (const secret of [false, true]) {
                const raw = stackWith("staging", (_o, v, secrets) => {
                    v["github:token"] = "ghp_stored";
                    if (secret) secrets.add("github:token");
                });
                assertRejected(
                    raw,
                    "github:token",
                    "refused",
                    "pulumi config rm -s staging github:token",
                    "GITHUB_TOKEN=$(gh auth token) pulumi up -s staging",
                );
            }
        });

        it("a self-managed backend URL, which the workflows cannot reach", () => {
            const raw = stackWith("production", (_o, v, secrets) => {
                v["cicd-pipeline:pulumiBackendUrl"] = "s3://bucket";
                secrets.add("cicd-pipeline:pulumiBackendUrl");
            });
            assertRejected(
                raw,
                "cicd-pipeline:pulumiBackendUrl",
                "Pulumi Cloud",
                "pulumi config rm -s production pulumiBackendUrl",
            );
        });

        it("an S3 backend that is not what the workflows can reach", () => {
            const backend = {
                url: "s3://acme-pulumi-state/web-app?region=eu-west-1",
                awsRoleArn: "arn:aws:iam::123456789012:role/pulumi-staging",
                awsRegion: "eu-west-1",
            };
            const ok = parseConfig(
                stackWith("staging", (_o, v) => {
                    v["cicd-pipeline:backend"] = JSON.stringify(backend);
                    delete v["cicd-pipeline:pulumiAccessToken"];
                }),
            );
            assert.deepStrictEqual(ok.backend, backend, "an S3 backend needs no Pulumi Cloud token");
            const gcs = stackWith("staging", (_o, v) => {
                v["cicd-pipeline:backend"] = JSON.stringify({ ...backend, url: "gs://bucket" });
            });
            assertRejected(gcs, "cicd-pipeline:backend.url", "S3 backend URL", "Pulumi Cloud");
            const role = stackWith("staging", (_o, v) => {
                v["cicd-pipeline:backend"] = JSON.stringify({ ...backend, awsRoleArn: "pulumi-staging" });
            });
            assertRejected(role, "cicd-pipeline:backend.awsRoleArn", "arn:aws:iam::");
        });

        it("production without the GitHub App its deploy job previews with", () => {
            const noApp = stackWith("production", (_o, v) => delete v["cicd-pipeline:githubApp"]);
            assertRejected(noApp, "cicd-pipeline:githubApp", "Members: read", "githubAppPrivateKey");
            const noKey = stackWith("production", (_o, v) => delete v["cicd-pipeline:githubAppPrivateKey"]);
            assertRejected(
                noKey,
                "cicd-pipeline:githubAppPrivateKey",
                "pulumi config set --secret -s production githubAppPrivateKey <",
            );
            // Staging's deploy job previews nothing, so it needs no App.
            assert.doesNotThrow(() =>
                parseConfig(stackWith("staging", (_o, v) => delete v["cicd-pipeline:githubAppPrivateKey"])),
            );
        });

        it("each stack's own Pulumi token, passphrase and registry credentials, staging's too", () => {
            for (const stack of ["staging", "production"]) {
                for (const key of [
                    "pulumiAccessToken",
                    "pulumiConfigPassphrase",
                    "dockerUsername",
                    "dockerPassword",
                ]) {
                    const raw = stackWith(stack, (_o, v) => delete v[`cicd-pipeline:${key}`]);
                    assertRejected(
                        raw,
                        `cicd-pipeline:${key}`,
                        `pulumi config set --secret -s ${stack} ${key}`,
                    );
                }
            }
        });

        it("an owner of the repository-wide objects that is no stack", () => {
            const raw = stackWith("staging", (o) => (o.github.repositoryObjectsStack = "prodution"));
            const problems = (() => {
                try {
                    parseConfig(raw, { knownStacks: ["production", "staging"] });
                } catch (e) {
                    return (e as ConfigError).problems;
                }
                return [];
            })();
            assert.ok(
                problems.some(
                    (p) =>
                        p.startsWith("cicd-pipeline:github.repositoryObjectsStack:") &&
                        p.includes("prodution"),
                ),
                problems.join("\n"),
            );
        });

        it("one host listed twice", () => {
            const raw = stackWith("production", (o) => {
                const hosts = o.deploy.hosts as Record<string, unknown>[];
                hosts[1].address = hosts[0].address;
            });
            assertRejected(raw, "cicd-pipeline:deploy.hosts", "twice");
        });

        it("a path that a tool would read as an option", () => {
            const raw = stackWith("staging", (o) => (o.workflows.sourceDir = "--exit-zero"));
            assertRejected(raw, "cicd-pipeline:workflows.sourceDir", "relative path");
        });

        it("a digest without its version", () => {
            const raw = stackWith("staging", (_o, v) => delete v["cicd-pipeline:version"]);
            assertRejected(raw, "cicd-pipeline:digest", "without version");
        });

        it("lists every problem at once", () => {
            const raw = stackWith("production", (o, v) => {
                o.github.requiredApprovals = 0;
                delete v["cicd-pipeline:dockerUsername"];
            });
            const problems = problemsOf(raw);
            assert.ok(problems.some((p) => p.startsWith("cicd-pipeline:github.requiredApprovals:")));
            assert.ok(problems.some((p) => p.startsWith("cicd-pipeline:dockerUsername:")));
        });

        it("names the stack file in the message", () => {
            const raw = stackWith("staging", (o) => (o.github.repository = ""));
            assert.throws(
                () => parseConfig(raw),
                /Invalid configuration for stack "staging" \(Pulumi\.staging\.yaml\)/,
            );
        });
    });

    describe("the cross-field rules and the table of secrets", () => {
        it("names each cross-field rule once, reporting a key the schema knows", () => {
            assert.equal(new Set(crossFieldRules.map((r) => r.name)).size, crossFieldRules.length);
            for (const rule of crossFieldRules) {
                assert.ok(rule.key.split(".")[0] in configSchema.shape, `${rule.name}: ${rule.key}`);
                assert.ok(rule.checks && rule.fix, rule.name);
            }
        });

        it("reports each rule's problem under the rule's key", () => {
            const raw = stackWith("production", (o, values) => {
                o.environment.name = "prod";
                values["cicd-pipeline:digest"] = `sha256:${"a".repeat(64)}`;
                delete values["cicd-pipeline:version"];
            });
            const problems = problemsOf(raw);
            for (const key of ["environment.name", "digest"]) {
                const rule = crossFieldRules.find((r) => r.key === key)!;
                assert.ok(
                    problems.some((p) => p.startsWith(`cicd-pipeline:${rule.key}: `)),
                    `${rule.name}:\n${problems.join("\n")}`,
                );
            }
        });

        it("declares each secret under its table name, in the environments its scope says", () => {
            const declared = ["staging", "production"].flatMap((stack) =>
                stackCredentials(parseConfig(readStackFile(stack, { overrides: testSecrets(stack) }))).filter(
                    (c) => c.kind === "secret",
                ),
            );
            const where = (key: string) =>
                declared
                    .filter((c) => "secret" in c.source && c.source.secret === key)
                    .map((c) => `${c.stack}/${c.environment}/${c.name}`)
                    .sort();
            for (const [key, spec] of Object.entries(secretTable)) {
                const n = spec.githubName;
                const expected = {
                    deploy: [`production/production/${n}`, `staging/staging/${n}`],
                    "deploy and preview": [
                        `production/production/${n}`,
                        `staging/drift/${n}`,
                        `staging/preview/${n}`,
                        `staging/staging/${n}`,
                    ],
                    "production preview": [`production/production/${n}`],
                    // The committed stacks leave Slack off.
                    notifications: [],
                }[spec.scope];
                assert.deepEqual(where(key), expected, key);
            }
        });

        it("is the table README's Secrets section lists: each config key with its GitHub secret", () => {
            const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
            const rows = readme.split("\n").filter((l) => l.startsWith("| `"));
            for (const [key, spec] of Object.entries(secretTable)) {
                assert.ok(
                    rows.some((r) => r.includes(`\`${key}\``) && r.includes(`\`${spec.githubName}\``)),
                    `README has no row for ${key} (${spec.githubName})`,
                );
            }
        });
    });
});
