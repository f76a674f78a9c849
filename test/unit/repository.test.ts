import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { actionsSecretOptions } from "../../components/repository/actions-secret";
import { BranchRules, githubActionsAppId } from "../../components/repository/branch-rules";
import { DeploymentEnvironment } from "../../components/repository/deployment-environment";
import { ReleaseTagRules } from "../../components/repository/release-tag-rules";
import { RepositorySecrets } from "../../components/repository/repository-secrets";
import { classicPatternMatches } from "../../components/repository/unmanaged-protection";
import { FakeGithub } from "../fake-github";
import { declareUnderMocks, githubTeamIds, githubUserIds, outputPromise } from "../../testkit/mocks";

/** A ResourceError of `component` (Pulumi reports it against the component's URN) whose message matches. */
function resourceError(component: pulumi.Resource, message: RegExp) {
    return (e: unknown) =>
        pulumi.ResourceError.isInstance(e) && e.resource === component && message.test(e.message);
}

const types = {
    protection: "github:index/branchProtection:BranchProtection",
    ruleset: "github:index/repositoryRuleset:RepositoryRuleset",
    environment: "github:index/repositoryEnvironment:RepositoryEnvironment",
    policy: "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
    secret: "github:index/actionsSecret:ActionsSecret",
    environmentSecret: "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
};

describe("repository components", () => {
    describe("BranchRules", () => {
        const main = () =>
            new BranchRules("main", {
                repository: "web-app",
                branch: "main",
                rulesetName: "cicd-pipeline: main",
                requiredChecks: ["Lint", "Test"],
                requiredApprovals: 2,
                requireUpToDate: true,
                includeAdministrators: true,
            });

        it("protects a branch with a ruleset: reviews, up-to-date checks, no bypass, no force push or deletion", async () => {
            const mocks = await declareUnderMocks(main);
            const [rule] = mocks.ofType(types.ruleset);
            assert.strictEqual(rule.name, "main-ruleset");
            assert.deepStrictEqual(rule.inputs, {
                repository: "web-app",
                name: "cicd-pipeline: main",
                target: "branch",
                enforcement: "active",
                conditions: { refName: { includes: ["refs/heads/main"], excludes: [] } },
                bypassActors: [],
                rules: {
                    pullRequest: { requiredApprovingReviewCount: 2 },
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
            });
            assert.strictEqual(mocks.ofType(types.protection).length, 0, "no classic branch protection");
        });

        it("binds every required check to the GitHub Actions app, so a posted commit status cannot satisfy it", async () => {
            const mocks = await declareUnderMocks(main);
            const github = new FakeGithub();
            const stored = github.create(types.ruleset, mocks.ofType(types.ruleset)[0].inputs);
            const ruleset = github.rulesets.find((r) => String(r.id) === stored.id)!;
            // A status posted through the statuses API carries no app; Actions' check runs carry 15368.
            assert.strictEqual(github.satisfiesRequiredCheck(ruleset, "Test", undefined), false);
            assert.strictEqual(github.satisfiesRequiredCheck(ruleset, "Test", 12345), false);
            assert.strictEqual(github.satisfiesRequiredCheck(ruleset, "Test", 15368), true);
            assert.strictEqual(githubActionsAppId, 15368);
        });

        it("lets repository administrators bypass a branch whose rules spare them", async () => {
            const mocks = await declareUnderMocks(
                () =>
                    new BranchRules("develop", {
                        repository: "web-app",
                        branch: "develop",
                        rulesetName: "cicd-pipeline: develop",
                        requiredChecks: ["Lint"],
                        requiredApprovals: 0,
                    }),
            );
            const [rule] = mocks.ofType(types.ruleset);
            const inputs = rule.inputs as { bypassActors: unknown; rules: Record<string, unknown> };
            assert.deepStrictEqual(inputs.bypassActors, [
                { actorType: "RepositoryRole", actorId: 5, bypassMode: "always" },
            ]);
            assert.deepStrictEqual(inputs.rules.requiredStatusChecks, {
                requiredChecks: [{ context: "Lint", integrationId: 15368 }],
                strictRequiredStatusChecksPolicy: false,
            });
            assert.deepStrictEqual(inputs.rules.pullRequest, { requiredApprovingReviewCount: 0 });
        });
    });

    describe("ReleaseTagRules", () => {
        it("refuses creating, moving and deleting release tags to all but the release managers", async () => {
            const mocks = await declareUnderMocks(
                () =>
                    new ReleaseTagRules("release-tags", {
                        repository: "web-app",
                        rulesetName: "cicd-pipeline: release tags",
                        tagPatterns: ["v*"],
                        roles: ["maintain"],
                        teams: ["release-managers"],
                    }),
            );
            const [rule] = mocks.ofType(types.ruleset);
            assert.deepStrictEqual(rule.inputs, {
                repository: "web-app",
                name: "cicd-pipeline: release tags",
                target: "tag",
                enforcement: "active",
                conditions: { refName: { includes: ["refs/tags/v*"], excludes: [] } },
                bypassActors: [
                    { actorType: "RepositoryRole", actorId: 2, bypassMode: "always" },
                    { actorType: "Team", actorId: githubTeamIds["release-managers"], bypassMode: "always" },
                ],
                rules: { creation: true, update: true, deletion: true },
            });
        });

        it("fails clearly when a release manager team does not exist", async () => {
            let rules: ReleaseTagRules | undefined;
            await declareUnderMocks(() => {
                rules = new ReleaseTagRules("release-tags", {
                    repository: "web-app",
                    rulesetName: "x",
                    tagPatterns: ["v*"],
                    roles: [],
                    teams: ["no-such-team"],
                });
            }).catch(() => undefined);
            await assert.rejects(
                outputPromise(rules!.rulesetId),
                resourceError(
                    rules!,
                    /release manager team "no-such-team" could not be resolved.*github.releaseManagers.teams/,
                ),
            );
        });
    });

    describe("RepositorySecrets", () => {
        it("declares one secret per name, each value secret", async () => {
            const mocks = await declareUnderMocks(
                () =>
                    new RepositorySecrets("repository", {
                        repository: "web-app",
                        secrets: { DOCKER_USERNAME: pulumi.secret("u"), DOCKER_PASSWORD: pulumi.secret("p") },
                    }),
            );
            const secrets = mocks.ofType(types.secret);
            assert.deepStrictEqual(secrets.map((s) => [s.name, s.inputs.secretName, s.inputs.value]).sort(), [
                ["repository-docker-password", "DOCKER_PASSWORD", "p"],
                ["repository-docker-username", "DOCKER_USERNAME", "u"],
            ]);
            for (const s of secrets)
                assert.ok(s.secretInputs.has("value"), `${s.name}'s value is not secret`);
        });

        it("marks a value secret even when handed a plain Output", async () => {
            const mocks = await declareUnderMocks(
                () =>
                    new RepositorySecrets("repository", {
                        repository: "web-app",
                        secrets: { SLACK_WEBHOOK: pulumi.output("https://hooks.slack.com/services/x") },
                    }),
            );
            assert.ok(mocks.ofType(types.secret)[0].secretInputs.has("value"));
        });

        it("replaces a secret by deleting first and ignores no property", () => {
            const opts = actionsSecretOptions(undefined as unknown as pulumi.Resource);
            assert.strictEqual(opts.deleteBeforeReplace, true);
            // ignoreChanges applies to inputs; GitHub's timestamps are outputs, so it could only mislead.
            assert.strictEqual(opts.ignoreChanges, undefined);
        });
    });

    describe("DeploymentEnvironment", () => {
        const production = () =>
            new DeploymentEnvironment("production", {
                repository: "web-app",
                environment: "production",
                tagPatterns: ["v*"],
                reviewerLogins: ["alice", "bob"],
                reviewerTeams: ["release-managers"],
                secrets: { DEPLOY_SSH_KEY: pulumi.secret("key"), DEPLOY_USER: pulumi.secret("deploy") },
            });

        it("resolves reviewers' logins and team slugs to GitHub's numeric IDs", async () => {
            const mocks = await declareUnderMocks(production);
            const [env] = mocks.ofType(types.environment);
            assert.deepStrictEqual(env.inputs.reviewers, [
                {
                    users: [githubUserIds.alice, githubUserIds.bob],
                    teams: [githubTeamIds["release-managers"]],
                },
            ]);
        });

        it("prevents self-review and refuses administrators' bypass by default", async () => {
            const mocks = await declareUnderMocks(production);
            const [env] = mocks.ofType(types.environment);
            assert.strictEqual(env.inputs.environment, "production");
            assert.strictEqual(env.inputs.preventSelfReview, true);
            assert.strictEqual(env.inputs.canAdminsBypass, false);
            assert.deepStrictEqual(env.inputs.deploymentBranchPolicy, {
                protectedBranches: false,
                customBranchPolicies: true,
            });
        });

        it("allows deployments only from the listed tag patterns", async () => {
            const mocks = await declareUnderMocks(production);
            const policies = mocks.ofType(types.policy);
            assert.deepStrictEqual(
                policies.map((p) => p.inputs),
                [{ repository: "web-app", environment: "production", tagPattern: "v*" }],
            );
        });

        it("allows deployments only from the listed branches", async () => {
            const mocks = await declareUnderMocks(
                () =>
                    new DeploymentEnvironment("staging", {
                        repository: "web-app",
                        environment: "staging",
                        branchPatterns: ["develop"],
                        secrets: {},
                    }),
            );
            assert.deepStrictEqual(
                mocks.ofType(types.policy).map((p) => p.inputs),
                [{ repository: "web-app", environment: "staging", branchPattern: "develop" }],
            );
            assert.strictEqual(mocks.ofType(types.environment)[0].inputs.reviewers, undefined);
        });

        it("sends self-review prevention only with reviewers, which GitHub requires for it", async () => {
            const mocks = await declareUnderMocks(
                () =>
                    new DeploymentEnvironment("staging", {
                        repository: "web-app",
                        environment: "staging",
                        branchPatterns: ["develop"],
                        preventSelfReview: true,
                        secrets: {},
                    }),
            );
            const [env] = mocks.ofType(types.environment);
            assert.strictEqual(env.inputs.preventSelfReview, false);
            // GitHub refuses prevent_self_review without a reviewer (safe-settings#628, in the model).
            assert.throws(
                () => new FakeGithub().create(types.environment, { ...env.inputs, preventSelfReview: true }),
                /at least one reviewer to set prevent_self_review/,
            );
            assert.doesNotThrow(() => new FakeGithub().create(types.environment, env.inputs));
        });

        it("without protection rules on the plan, sends no reviewers, wait timer or self-review prevention", async () => {
            const mocks = await declareUnderMocks(
                () =>
                    new DeploymentEnvironment("production", {
                        repository: "web-app",
                        environment: "production",
                        tagPatterns: ["v*"],
                        protectionRules: false,
                        secrets: {},
                    }),
            );
            const [env] = mocks.ofType(types.environment);
            assert.strictEqual(env.inputs.reviewers, undefined);
            assert.strictEqual(env.inputs.preventSelfReview, false);
            assert.strictEqual(env.inputs.waitTimer, 0);
            assert.doesNotThrow(() =>
                new FakeGithub("team", "private").create(types.environment, env.inputs),
            );
        });

        it("refuses reviewers where the plan has no protection rules", () => {
            assert.throws(
                () =>
                    new DeploymentEnvironment("production", {
                        repository: "web-app",
                        environment: "production",
                        reviewerLogins: ["alice"],
                        protectionRules: false,
                        secrets: {},
                    }),
                (e: unknown) =>
                    pulumi.ResourceError.isInstance(e) &&
                    e.resource instanceof DeploymentEnvironment &&
                    /plan has no required reviewers or wait timers/.test(e.message),
            );
        });

        it("declares its secrets in the environment, values secret", async () => {
            const mocks = await declareUnderMocks(production);
            const secrets = mocks.ofType(types.environmentSecret);
            assert.deepStrictEqual(secrets.map((s) => [s.inputs.environment, s.inputs.secretName]).sort(), [
                ["production", "DEPLOY_SSH_KEY"],
                ["production", "DEPLOY_USER"],
            ]);
            for (const s of secrets) assert.ok(s.secretInputs.has("value"));
            assert.strictEqual(mocks.ofType(types.secret).length, 0, "no repository-level secret");
        });

        it("fails clearly when a reviewer does not exist on GitHub", async () => {
            let env: DeploymentEnvironment | undefined;
            await declareUnderMocks(() => {
                env = new DeploymentEnvironment("production", {
                    repository: "web-app",
                    environment: "production",
                    reviewerLogins: ["nobody-here"],
                    secrets: {},
                });
            }).catch(() => undefined);
            await assert.rejects(
                outputPromise(env!.name),
                resourceError(env!, /reviewer user "nobody-here" could not be resolved on GitHub/),
            );
        });
    });
});

describe("classic branch protection patterns", () => {
    // Examples from GitHub's "About branch protection rules" (File.fnmatch with FNM_PATHNAME).
    const cases: [pattern: string, branch: string, matches: boolean][] = [
        ["main", "main", true],
        ["main", "maintenance", false],
        ["*", "main", true],
        ["*release*", "pre-release-1", true],
        ["qa/*", "qa/foo", true],
        ["qa/*", "qa/foo/bar", false],
        ["qa/**/*", "qa/foo/bar/foobar/hello-world", true],
        ["**/*", "develop", true],
        ["m?in", "main", true],
        ["[md]ain", "main", true],
        ["[!m]ain", "main", false],
        ["feature.x", "featureax", false],
    ];
    for (const [pattern, branch, matches] of cases) {
        it(`"${pattern}" ${matches ? "covers" : "does not cover"} ${branch}`, () => {
            assert.strictEqual(classicPatternMatches(pattern, branch), matches);
        });
    }
});
