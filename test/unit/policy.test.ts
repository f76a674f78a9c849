/**
 * The policy pack's policies (policy/), each called as the policy SDK calls it (validateResource,
 * validateStack with a reportViolation), on valid and violating inputs shaped as the engine sends
 * them: the providers' type tokens and input names.
 */
import { strict as assert } from "assert";
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { KEY_VARIABLE } from "../../components/deploy/orchestrator/cli";
import { githubActionsAppId } from "../../components/repository/github-plan";
import { pipelinePolicies, types } from "../../policy/policies";
import { PolicyStackConfig, policyStackConfig } from "../../policy/stack-config";
import { renderedByStack } from "./workflow-helpers";

const defaults = policyStackConfig({});

const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH1v0Xz3lJ0c2m2vZ0e5Q6JkGmGmE0sYyFq9q3m7vq0n";
const privateKey =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

/** Runs one policy on one resource; returns the violations' messages. */
async function violations(
    name: string,
    type: string,
    props: Record<string, unknown>,
    config: PolicyStackConfig = defaults,
): Promise<string[]> {
    const policy = pipelinePolicies(config).resources.find(
        (p) => p.name === name,
    ) as ResourceValidationPolicy;
    assert.ok(policy, `no policy ${name}`);
    const found: string[] = [];
    const validate = policy.validateResource;
    assert.ok(validate);
    const validations = Array.isArray(validate) ? validate : [validate];
    for (const v of validations) {
        await v(
            {
                type,
                props,
                urn: `urn:pulumi:s::p::${type}::res`,
                name: "res",
                opts: {} as never,
                isType: () => false,
                asType: () => undefined,
                getConfig: () => ({}) as never,
                notApplicable: () => {
                    throw new Error("not applicable");
                },
            } as never,
            (message: string) => found.push(message),
        );
    }
    return found;
}

/** Runs one stack policy on resources; returns the violations' messages. */
async function stackViolations(name: string, resources: Partial<PolicyResource>[]): Promise<string[]> {
    const policy = pipelinePolicies(defaults).stack.find((p) => p.name === name) as StackValidationPolicy;
    const found: string[] = [];
    await policy.validateStack(
        { resources: resources as PolicyResource[], getConfig: () => ({}) } as never,
        (m) => found.push(m),
    );
    return found;
}

const production = {
    repository: "web-app",
    environment: "production",
    reviewers: [{ users: [1234], teams: [] }],
    preventSelfReview: true,
    canAdminsBypass: false,
};

const mainRuleset = {
    name: "cicd-pipeline: main",
    target: "branch",
    enforcement: "active",
    conditions: { refName: { includes: ["refs/heads/main"], excludes: [] } },
    bypassActors: [],
    rules: {
        pullRequest: { requiredApprovingReviewCount: 1 },
        requiredStatusChecks: {
            requiredChecks: [
                { context: "Lint", integrationId: githubActionsAppId },
                { context: "Test", integrationId: githubActionsAppId },
            ],
            strictRequiredStatusChecksPolicy: true,
        },
        nonFastForward: true,
        deletion: true,
    },
};

const tagRuleset = {
    name: "cicd-pipeline: release tags",
    target: "tag",
    enforcement: "active",
    conditions: { refName: { includes: ["refs/tags/v*"], excludes: [] } },
    bypassActors: [{ actorType: "RepositoryRole", actorId: 5, bypassMode: "always" }],
    rules: { creation: true, update: true, deletion: true },
};

const workflow = (body: string) => ({
    repository: "web-app",
    branch: "pulumi/workflows-abc",
    file: ".github/workflows/x.yml",
    content: body,
});

const pinned = `name: x
on: push
permissions:
  contents: read
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
      - env:
          REF: \${{ github.ref_name }}
        run: echo "\${REF}"
`;

describe("policy pack", () => {
    describe("production-reviewers", () => {
        it("passes a production environment with a reviewer, self-review prevented, no admin bypass", async () => {
            assert.deepEqual(await violations("production-reviewers", types.environment, production), []);
        });
        it("refuses production without reviewers, naming the environment and the fix", async () => {
            const found = await violations("production-reviewers", types.environment, {
                ...production,
                reviewers: undefined,
                preventSelfReview: false,
            });
            assert.equal(found.length, 2);
            assert.match(
                found[0],
                /RepositoryEnvironment "res" has no required reviewer.*Fix: set environment.reviewers/,
            );
            assert.match(
                found[1],
                /preventSelfReview is not true.*Fix: set environment.preventSelfReview: true/,
            );
        });
        it("refuses administrators' bypass", async () => {
            const found = await violations("production-reviewers", types.environment, {
                ...production,
                canAdminsBypass: true,
            });
            assert.match(found.join(), /canAdminsBypass/);
        });
        it("ignores other environments", async () => {
            assert.deepEqual(
                await violations("production-reviewers", types.environment, { environment: "staging" }),
                [],
            );
        });
        it("is advisory instead when the stack declares a plan without required reviewers", async () => {
            const limited = policyStackConfig({
                "cicd-pipeline:github": JSON.stringify({ plan: "team", visibility: "private" }),
            });
            assert.equal(limited.planLimitsReviewers, true);
            const bare = { ...production, reviewers: undefined, preventSelfReview: false };
            assert.deepEqual(await violations("production-reviewers", types.environment, bare, limited), []);
            const advisory = await violations(
                "production-reviewers-plan-limited",
                types.environment,
                bare,
                limited,
            );
            assert.match(
                advisory[0],
                /no required reviewer.*github.plan team, github.visibility private offer no required reviewers/,
            );
            const policy = pipelinePolicies(limited).resources.find(
                (p) => p.name === "production-reviewers-plan-limited",
            );
            assert.equal(policy?.enforcementLevel, "advisory");
            // With the plan's reviewers, the advisory policy says nothing and the mandatory one judges.
            assert.deepEqual(
                await violations("production-reviewers-plan-limited", types.environment, bare),
                [],
            );
        });
    });

    describe("main-branch-protection", () => {
        it("passes main's ruleset as the program declares it", async () => {
            assert.deepEqual(await violations("main-branch-protection", types.ruleset, mainRuleset), []);
        });
        it("refuses a main ruleset without reviews, with admins bypassing, and checks from any source", async () => {
            const found = await violations("main-branch-protection", types.ruleset, {
                ...mainRuleset,
                bypassActors: [{ actorType: "RepositoryRole", actorId: 5, bypassMode: "always" }],
                rules: {
                    pullRequest: { requiredApprovingReviewCount: 0 },
                    requiredStatusChecks: { requiredChecks: [{ context: "Lint" }] },
                },
            });
            assert.equal(found.length, 3, found.join("\n"));
            assert.match(found[0], /does not include administrators. Fix: bypassActors: \[\]/);
            assert.match(found[1], /requiredApprovingReviewCount 0/);
            assert.match(found[2], /"Lint" from anyone who can post a commit status.*integrationId: 15368/);
        });
        it("refuses a main ruleset that requires no check", async () => {
            const found = await violations("main-branch-protection", types.ruleset, {
                ...mainRuleset,
                rules: { pullRequest: { requiredApprovingReviewCount: 1 } },
            });
            assert.match(found.join(), /requires no status check/);
        });
        it("judges the main branch the stack names (github.branches.main)", async () => {
            const trunk = policyStackConfig({
                "cicd-pipeline:github": JSON.stringify({ branches: { main: "trunk" } }),
            });
            const weak = { ...mainRuleset, rules: {} };
            assert.deepEqual(await violations("main-branch-protection", types.ruleset, weak, trunk), []);
            const onTrunk = { ...weak, conditions: { refName: { includes: ["refs/heads/trunk"] } } };
            assert.equal(
                (await violations("main-branch-protection", types.ruleset, onTrunk, trunk)).length,
                2,
            );
        });
    });

    describe("release-tags-protected", () => {
        it("passes the release-tag ruleset as the program declares it", async () => {
            assert.deepEqual(await violations("release-tags-protected", types.ruleset, tagRuleset), []);
        });
        it("refuses a release-tag ruleset that lets anyone move or delete a tag", async () => {
            const found = await violations("release-tags-protected", types.ruleset, {
                ...tagRuleset,
                rules: { creation: true },
            });
            assert.match(
                found[0],
                /lets anyone with write access move, delete a release tag.*Fix: rules update: true, deletion: true/,
            );
        });
        it("refuses one that is only evaluated", async () => {
            const found = await violations("release-tags-protected", types.ruleset, {
                ...tagRuleset,
                enforcement: "evaluate",
            });
            assert.match(found[0], /is not enforced/);
        });
    });

    describe("workflow-files-hardened", () => {
        it("passes every workflow file each committed stack renders", async () => {
            for (const [stack, files] of Object.entries(renderedByStack())) {
                for (const [file, content] of Object.entries(files)) {
                    const found = await violations("workflow-files-hardened", types.repositoryFile, {
                        ...workflow(content),
                        file,
                    });
                    assert.deepEqual(found, [], `${stack} ${file}`);
                }
            }
        });
        it("refuses an action pinned to a tag", async () => {
            const found = await violations(
                "workflow-files-hardened",
                types.repositoryFile,
                workflow(pinned.replace(/@3d3c\S+/, "@v7")),
            );
            assert.match(found[0], /actions\/checkout@v7 is not pinned to a full commit SHA.*Fix: pin it/);
            assert.match(found[0], /\(\.github\/workflows\/x\.yml\)/);
        });
        it("refuses a workflow without permissions", async () => {
            const found = await violations(
                "workflow-files-hardened",
                types.repositoryFile,
                workflow(pinned.replace("permissions:\n  contents: read\n", "")),
            );
            assert.match(found[0], /sets no permissions.*job\(s\) a/);
        });
        it("refuses an expression inside run:", async () => {
            const found = await violations(
                "workflow-files-hardened",
                types.repositoryFile,
                workflow(pinned.replace('echo "${REF}"', 'echo "${{ github.head_ref }}"')),
            );
            assert.match(found[0], /job a, step 2: a \$\{\{ \}\} expression inside run:.*script injection/);
        });
        it("refuses an unpinned reusable workflow and container", async () => {
            const found = await violations(
                "workflow-files-hardened",
                types.repositoryFile,
                workflow(
                    "on: push\npermissions: {}\njobs:\n  r:\n    uses: acme/wf/.github/workflows/x.yml@main\n" +
                        "  c:\n    runs-on: x\n    steps:\n      - uses: docker://alpine:3\n",
                ),
            );
            assert.equal(found.length, 2);
        });
        it("ignores files that are not workflows", async () => {
            const found = await violations("workflow-files-hardened", types.repositoryFile, {
                ...workflow("uses: a@v1"),
                file: "README.md",
            });
            assert.deepEqual(found, []);
        });
    });

    describe("no-plaintext-secrets", () => {
        const withSecret = policyStackConfig({
            "cicd-pipeline:dockerPassword": "s3cr3t-registry-password",
            "cicd-pipeline:dockerUsername": "acme-bot-user",
        });
        it("passes secrets in the inputs the provider or the release marks secret", async () => {
            assert.deepEqual(
                await violations(
                    "no-plaintext-secrets",
                    "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
                    { secretName: "DOCKER_PASSWORD", value: "s3cr3t-registry-password" },
                    withSecret,
                ),
                [],
            );
            assert.deepEqual(
                await violations("no-plaintext-secrets", types.remoteCommand, {
                    connection: { host: "h", privateKey, hostKey },
                }),
                [],
            );
            assert.deepEqual(
                await violations("no-plaintext-secrets", types.localCommand, {
                    environment: { [KEY_VARIABLE]: privateKey },
                }),
                [],
            );
        });
        it("refuses a secret config value in a variable, naming the key and the input", async () => {
            const found = await violations(
                "no-plaintext-secrets",
                "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable",
                { variableName: "DOCKER_PASSWORD", value: "s3cr3t-registry-password" },
                withSecret,
            );
            assert.equal(found.length, 1);
            assert.match(
                found[0],
                /the value of the secret config key cicd-pipeline:dockerPassword in its plain input value/,
            );
        });
        it("leaves values the secret table allows in plaintext (dockerUsername) alone", async () => {
            assert.equal(withSecret.secretValues.has("cicd-pipeline:dockerUsername"), false);
        });
        it("refuses a private key in a command line and a token in a file", async () => {
            const key = await violations("no-plaintext-secrets", types.localCommand, {
                create: `echo '${privateKey}' > k`,
            });
            assert.match(key[0], /a private key in its plain input create/);
            const token = await violations("no-plaintext-secrets", types.repositoryFile, {
                file: "x",
                content: `token: ghp_${"a".repeat(36)}`,
            });
            assert.match(token[0], /a GitHub token in its plain input content/);
        });
        it("refuses a key in another environment variable of a command", async () => {
            const found = await violations("no-plaintext-secrets", types.localCommand, {
                environment: { OTHER: privateKey },
            });
            assert.match(found[0], /environment.OTHER/);
        });
    });

    describe("deploy-host-key-pinned", () => {
        const remote = {
            connection: { host: "10.0.0.5", port: 22, user: "deploy", hostKey },
            create: "bluegreen x",
        };
        it("passes a remote command with a pinned key", async () => {
            assert.deepEqual(await violations("deploy-host-key-pinned", types.remoteCommand, remote), []);
        });
        it("refuses a remote command without a host key, naming the host", async () => {
            const found = await violations("deploy-host-key-pinned", types.remoteCommand, {
                ...remote,
                connection: { host: "10.0.0.5", port: 2222 },
            });
            assert.match(
                found[0],
                /connects to 10.0.0.5:2222 without a pinned host key.*Fix: connection.hostKey/,
            );
        });
        it("refuses a malformed host key", async () => {
            const found = await violations("deploy-host-key-pinned", types.remoteCommand, {
                ...remote,
                connection: { ...remote.connection, hostKey: "[10.0.0.5]:22 ssh-ed25519 AAAA" },
            });
            assert.match(found[0], /is not one public key/);
        });
        it("refuses a command that turns ssh's host key check off", async () => {
            const found = await violations("deploy-host-key-pinned", types.localCommand, {
                create: "ssh -o StrictHostKeyChecking=no deploy@h true",
            });
            assert.match(found[0], /turns off ssh's host key check \(StrictHostKeyChecking=no\)/);
        });
        it("refuses an orchestrator host without its key, and passes one with it", async () => {
            const found = await violations("deploy-host-key-pinned", types.localCommand, {
                create: "node - --user deploy --host 'prod-1 10.0.0.5 22' --image x",
            });
            assert.match(found[0], /releases to host "prod-1" without a pinned host key/);
            assert.deepEqual(
                await violations("deploy-host-key-pinned", types.localCommand, {
                    create: `node - --user deploy --host 'prod-1 10.0.0.5 22 ${hostKey}' --image x`,
                }),
                [],
            );
        });
    });

    describe("repository-protection-declared", () => {
        it("passes a stack with main's and the release tags' rulesets", async () => {
            const found = await stackViolations("repository-protection-declared", [
                { type: types.ruleset, props: mainRuleset },
                { type: types.ruleset, props: tagRuleset },
            ]);
            assert.deepEqual(found, []);
        });
        it("refuses a stack that declares workflow files but protects neither", async () => {
            const found = await stackViolations("repository-protection-declared", [
                { type: types.repositoryFile, props: workflow(pinned) },
            ]);
            assert.equal(found.length, 2);
            assert.match(found[0], /no ruleset protects branch main/);
            assert.match(found[1], /no ruleset protects the release tags refs\/tags\/v\*/);
        });
        it("says nothing for a stack without repository-wide objects", async () => {
            assert.deepEqual(
                await stackViolations("repository-protection-declared", [
                    { type: types.environment, props: { environment: "staging" } },
                ]),
                [],
            );
        });
    });

    describe("the stack's config", () => {
        it("reads secret values from the config as the engine hands it over (secret wrappers included)", () => {
            const c = policyStackConfig({
                "cicd-pipeline:deploySshKey": { "4dabf18193072939515e22adb298388d": "x", value: privateKey },
                "cicd-pipeline:pulumiConfigPassphrase": "short",
            });
            assert.equal(c.secretValues.get("cicd-pipeline:deploySshKey"), privateKey.trim());
            assert.equal(c.secretValues.has("cicd-pipeline:pulumiConfigPassphrase"), false);
            assert.equal(c.mainBranch, "main");
            assert.equal(c.planLimitsReviewers, false);
        });
    });
});
