import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { actionsSecretOptions } from "../../components/repository/actions-secret";
import { BranchRules } from "../../components/repository/branch-rules";
import { DeploymentEnvironment } from "../../components/repository/deployment-environment";
import { RepositorySecrets } from "../../components/repository/repository-secrets";
import { declareUnderMocks, githubTeamIds, githubUserIds, outputPromise } from "../mocks";

const types = {
    protection: "github:index/branchProtection:BranchProtection",
    environment: "github:index/repositoryEnvironment:RepositoryEnvironment",
    policy: "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
    secret: "github:index/actionsSecret:ActionsSecret",
    environmentSecret: "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
};

describe("repository components", () => {
    describe("BranchRules", () => {
        it("protects a branch with reviews, up-to-date checks, administrators included", async () => {
            const mocks = await declareUnderMocks(
                () =>
                    new BranchRules("main", {
                        repository: "web-app",
                        branch: "main",
                        requiredChecks: ["Lint", "Test"],
                        requiredApprovals: 2,
                        requireUpToDate: true,
                        includeAdministrators: true,
                    }),
            );
            const [rule] = mocks.ofType(types.protection);
            assert.strictEqual(rule.name, "main-rule");
            assert.deepStrictEqual(rule.inputs, {
                repositoryId: "web-app",
                pattern: "main",
                enforceAdmins: true,
                allowsForcePushes: false,
                allowsDeletions: false,
                requiredPullRequestReviews: [{ requiredApprovingReviewCount: 2 }],
                requiredStatusChecks: [{ strict: true, contexts: ["Lint", "Test"] }],
            });
        });

        it("defaults to checks that need not be up to date and rules that spare administrators", async () => {
            const mocks = await declareUnderMocks(
                () =>
                    new BranchRules("develop", {
                        repository: "web-app",
                        branch: "develop",
                        requiredChecks: ["Lint"],
                        requiredApprovals: 0,
                    }),
            );
            const [rule] = mocks.ofType(types.protection);
            assert.strictEqual(rule.inputs.enforceAdmins, false);
            assert.deepStrictEqual(rule.inputs.requiredStatusChecks, [{ strict: false, contexts: ["Lint"] }]);
            assert.deepStrictEqual(rule.inputs.requiredPullRequestReviews, [
                { requiredApprovingReviewCount: 0 },
            ]);
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

        it("replaces a secret by deleting first and ignores only GitHub's write timestamp", () => {
            const opts = actionsSecretOptions(undefined as unknown as pulumi.Resource);
            assert.strictEqual(opts.deleteBeforeReplace, true);
            assert.deepStrictEqual(opts.ignoreChanges, ["updatedAt"]);
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
                /reviewer user "nobody-here" could not be resolved on GitHub/,
            );
        });
    });
});
