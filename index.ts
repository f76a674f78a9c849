/**
 * The pipeline, per stack: GitHub secrets, branch protection and environments for the app's
 * repository, and blue-green releases on the stack's hosts. Config is read and validated once,
 * here; components get plain values.
 */
import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig, PipelineConfig } from "./config";
import { BlueGreenDeployment, hostReleaseSettings } from "./components/deploy/blue-green-deployment";
import { BranchRules } from "./components/repository/branch-rules";
import { DeploymentEnvironment } from "./components/repository/deployment-environment";
import { RepositorySecrets } from "./components/repository/repository-secrets";
import {
    deployHostSecretName,
    environmentSecretNames,
    repositorySecretNames,
} from "./components/secret-names";
import { requiredStatusChecks } from "./components/workflows/ci-jobs";
import { workflowFilesForStack } from "./components/workflows/render";
import { WorkflowFiles } from "./components/workflows/workflow-files";

const config: PipelineConfig = loadConfig();
const { environment, secrets } = config;

/** Declares the GitHub side: this stack's environment, and the repository-wide objects if it owns them. */
function declareGithub(
    gh: NonNullable<PipelineConfig["github"]>,
    deploy: NonNullable<PipelineConfig["deploy"]>,
) {
    const provider = new github.Provider("github", { owner: gh.owner });
    const opts = { provider };

    const env = new DeploymentEnvironment(
        environment.name,
        {
            repository: gh.repository,
            environment: environment.name,
            branchPatterns: environment.deployFrom.branches,
            tagPatterns: environment.deployFrom.tags,
            reviewerLogins: environment.reviewers.users,
            reviewerTeams: environment.reviewers.teams,
            preventSelfReview: environment.preventSelfReview,
            adminsBypass: environment.adminsBypass,
            waitTimerMinutes: environment.waitTimerMinutes,
            secrets: {
                [environmentSecretNames.deploySshKey]: secrets.deploySshKey!,
                [environmentSecretNames.deployUser]: pulumi.secret(deploy.user),
                [deployHostSecretName(environment.name)]: pulumi.secret(
                    deploy.hosts.map((h) => h.address).join(","),
                ),
            },
        },
        opts,
    );

    if (!gh.ownsRepositoryObjects) {
        return {
            environmentSecrets: env.secretNames,
            repositorySecrets: [] as string[],
            protectedBranches: [] as string[],
        };
    }

    const repositorySecrets: Record<string, pulumi.Output<string>> = {};
    for (const key of Object.keys(repositorySecretNames) as (keyof typeof repositorySecretNames)[]) {
        const value = secrets[key];
        if (value) repositorySecrets[repositorySecretNames[key]] = value;
    }
    const repoSecrets = new RepositorySecrets(
        "repository",
        { repository: gh.repository, secrets: repositorySecrets },
        opts,
    );

    const main = new BranchRules(
        "main",
        {
            repository: gh.repository,
            branch: gh.branches.main,
            requiredChecks: requiredStatusChecks,
            requiredApprovals: gh.requiredApprovals,
            requireUpToDate: true,
            includeAdministrators: true,
        },
        opts,
    );
    const develop = new BranchRules(
        "develop",
        {
            repository: gh.repository,
            branch: gh.branches.develop,
            requiredChecks: requiredStatusChecks,
            requiredApprovals: 0,
        },
        opts,
    );
    const workflowFiles = new WorkflowFiles(
        "workflows",
        { repository: gh.repository, baseBranch: gh.branches.main, files: workflowFilesForStack(config) },
        opts,
    );
    return {
        environmentSecrets: env.secretNames,
        repositorySecrets: repoSecrets.names,
        protectedBranches: pulumi.all([main.pattern, develop.pattern]),
        workflowsPullRequest: workflowFiles.pullRequestNumber,
    };
}

const githubSide = config.github && config.deploy ? declareGithub(config.github, config.deploy) : undefined;

/** Blue-green releases of the configured version on the stack's hosts (once a version is set). */
const deployment =
    config.deploy && config.release.version
        ? new BlueGreenDeployment(environment.name, {
              hosts: config.deploy.hosts,
              user: config.deploy.user,
              privateKey: secrets.deploySshKey!,
              image: config.deploy.image,
              version: config.release.version,
              digest: config.release.digest,
              resolveDigest: config.deploy.resolveDigest,
              settings: hostReleaseSettings(config.deploy),
              batchSize: config.deploy.batchSize,
          })
        : undefined;

/** The stack's environment, as the workflows and people see it. */
export const environmentName = environment.name;
export const environmentUrl = environment.url;
/** Branches whose protection this stack declares. */
export const protectedBranches = githubSide?.protectedBranches ?? [];
/** Names (never values) of the Actions secrets this stack declares. */
export const secretNames = {
    repository: githubSide?.repositorySecrets ?? [],
    environment: githubSide?.environmentSecrets ?? [],
};
/** The pull request that delivers changed workflow files, if one is open. */
export const workflowsPullRequest = githubSide?.workflowsPullRequest;
/** The version and image digest released to this stack's hosts, and what each host serves. */
export const version = deployment?.version;
export const digest = deployment?.digest;
export const liveVersions = deployment?.liveVersions;
