/**
 * Every action the workflows use, pinned to the full commit SHA of a verified release, with typed
 * inputs (the names in each action's action.yml at that release), so a misspelt input fails to
 * compile instead of being ignored on GitHub.
 */
import { Env, Expression, Inputs, PinnedAction, UsesStep } from "./model";

/** Commit SHAs read from each action's own repository (`git rev-parse TAG^{commit}`). */
export const pins = {
    checkout: {
        action: "actions/checkout",
        sha: "3d3c42e5aac5ba805825da76410c181273ba90b1",
        version: "v7.0.1",
    },
    setupPython: {
        action: "actions/setup-python",
        sha: "5fda3b95a4ea91299a34e894583c3862153e4b97",
        version: "v7.0.0",
    },
    setupNode: {
        action: "actions/setup-node",
        sha: "820762786026740c76f36085b0efc47a31fe5020",
        version: "v7.0.0",
    },
    uploadArtifact: {
        action: "actions/upload-artifact",
        sha: "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
        version: "v7.0.0",
    },
    setupBuildx: {
        action: "docker/setup-buildx-action",
        sha: "37fe631027851001ddb9b187196cc803df7f5f0e",
        version: "v4.3.0",
    },
    dockerLogin: {
        action: "docker/login-action",
        sha: "4907a6ddec9925e35a0a9e82d7399ccc52663121",
        version: "v4.1.0",
    },
    buildPush: {
        action: "docker/build-push-action",
        sha: "53b7df96c91f9c12dcc8a07bcb9ccacbed38856a",
        version: "v7.3.0",
    },
    metadata: {
        action: "docker/metadata-action",
        sha: "dc802804100637a589fabce1cb79ff13a1411302",
        version: "v6.2.0",
    },
    trivy: {
        action: "aquasecurity/trivy-action",
        sha: "ed142fd0673e97e23eac54620cfb913e5ce36c25",
        version: "v0.36.0",
    },
    uploadSarif: {
        action: "github/codeql-action/upload-sarif",
        sha: "8aad20d150bbac5944a9f9d289da16a4b0d87c1e",
        version: "v4.36.2",
    },
    pulumi: { action: "pulumi/actions", sha: "8e5e406f4007fca908480587cb9893c07090f58d", version: "v7.0.0" },
    /** Read from aws-actions/configure-aws-credentials itself: v6.2.3^{commit}, on main, node24. */
    configureAwsCredentials: {
        action: "aws-actions/configure-aws-credentials",
        sha: "e6de054238d6b7531b4efff3b6587d9aade6a06c",
        version: "v6.2.3",
    },
    /** Read from actions/create-github-app-token itself: v3.1.1^{commit}, on main, runs on node24. */
    createAppToken: {
        action: "actions/create-github-app-token",
        sha: "1b10c78c7865c340bc4f6099eb2f838309f1e8c3",
        version: "v3.1.1",
    },
    slack: {
        action: "slackapi/slack-github-action",
        sha: "dcb1066f776dd043e64d0e8ba94ca15cc7e1875d",
        version: "v4.0.0",
    },
} as const satisfies Record<string, PinnedAction>;

type Value = string | number | boolean;

interface StepOptions<I> {
    readonly name: string;
    readonly id?: string;
    readonly if?: Expression;
    readonly env?: Env;
    readonly "continue-on-error"?: boolean;
    readonly with?: I;
}

function step<I extends object>(pin: PinnedAction, options: StepOptions<I>): UsesStep {
    const { with: inputs, ...rest } = options;
    return { ...rest, uses: pin, ...(inputs ? { with: inputs as Inputs } : {}) };
}

export interface CheckoutInputs {
    readonly "persist-credentials"?: boolean;
    readonly "fetch-depth"?: number;
    readonly ref?: string;
}
/** Checks out the repository; the token is not left in .git/config for later steps to read. */
export function checkout(name = "Check out", inputs: CheckoutInputs = {}): UsesStep {
    return step(pins.checkout, { name, with: { "persist-credentials": false, ...inputs } });
}

export interface SetupPythonInputs {
    readonly "python-version": string;
    readonly cache?: "pip";
    readonly "cache-dependency-path"?: string;
}
export const setupPython = (o: StepOptions<SetupPythonInputs>) => step(pins.setupPython, o);

export interface SetupNodeInputs {
    readonly "node-version": string;
    readonly cache?: "npm";
    readonly "cache-dependency-path"?: string;
    /** setup-node v5+ caches npm on its own when package.json names it; false turns that off. */
    readonly "package-manager-cache"?: boolean;
}
export const setupNode = (o: StepOptions<SetupNodeInputs>) => step(pins.setupNode, o);

export interface UploadArtifactInputs {
    readonly name: string;
    readonly path: string;
    readonly "if-no-files-found"?: "warn" | "error" | "ignore";
    readonly "retention-days"?: number;
}
export const uploadArtifact = (o: StepOptions<UploadArtifactInputs>) => step(pins.uploadArtifact, o);

export const setupBuildx = (o: StepOptions<Record<string, never>>) => step(pins.setupBuildx, o);

export interface DockerLoginInputs {
    readonly registry?: string;
    readonly username: string;
    readonly password: string;
}
export const dockerLogin = (o: StepOptions<DockerLoginInputs>) => step(pins.dockerLogin, o);

export interface MetadataInputs {
    readonly images: string;
    readonly tags: string;
    readonly flavor?: string;
}
export const metadata = (o: StepOptions<MetadataInputs>) => step(pins.metadata, o);

export interface BuildPushInputs {
    readonly context: string;
    readonly file: string;
    readonly push: boolean;
    readonly load?: boolean;
    readonly tags: string;
    readonly labels?: string;
    readonly "build-args"?: string;
    readonly "cache-from"?: string;
    readonly "cache-to"?: string;
    readonly provenance?: Value;
    readonly sbom?: boolean;
}
export const buildPush = (o: StepOptions<BuildPushInputs>) => step(pins.buildPush, o);

export interface TrivyInputs {
    readonly "scan-type": "image" | "fs";
    readonly "image-ref"?: string;
    readonly "scan-ref"?: string;
    readonly scanners?: string;
    readonly format?: "table" | "sarif" | "json";
    readonly output?: string;
    readonly "exit-code"?: string;
    readonly "ignore-unfixed"?: boolean;
    readonly severity?: string;
}
export const trivy = (o: StepOptions<TrivyInputs>) => step(pins.trivy, o);

export interface UploadSarifInputs {
    readonly sarif_file: string;
    readonly category: string;
}
export const uploadSarif = (o: StepOptions<UploadSarifInputs>) => step(pins.uploadSarif, o);

export interface PulumiInputs {
    readonly command?: "up" | "preview";
    readonly "stack-name"?: string;
    readonly "work-dir"?: string;
    readonly "cloud-url"?: string;
    readonly "comment-on-pr"?: boolean;
    /** Also writes the result to the job summary. */
    readonly "comment-on-summary"?: boolean;
    readonly "config-map"?: string;
    readonly diff?: boolean;
    readonly refresh?: boolean;
    readonly message?: string;
    /** URNs (or globs with * and **), one a line: only these resources are updated. */
    readonly target?: string;
    /** Also update what depends on a target, children of a targeted component included. */
    readonly "target-dependents"?: boolean;
    /** Policy pack directories (relative to work-dir), one a line: `--policy-pack` for each. */
    readonly policyPacks?: string;
    /** Fail when the preview or update would change anything (`--expect-no-changes`). */
    readonly "expect-no-changes"?: boolean;
}
export const pulumiAction = (o: StepOptions<PulumiInputs>) => step(pins.pulumi, o);

/** Inputs of aws-actions/configure-aws-credentials v6.2.3 (action.yml) for an OIDC role. */
export interface ConfigureAwsCredentialsInputs {
    readonly "role-to-assume": string;
    readonly "aws-region": string;
}
export const configureAwsCredentials = (o: StepOptions<ConfigureAwsCredentialsInputs>) =>
    step(pins.configureAwsCredentials, o);

/**
 * Inputs of actions/create-github-app-token v3.1.1 (action.yml): the App's client ID and private
 * key, the installation's owner and repositories, and one `permission-<name>` input per permission
 * the token may have (the token gets only the permissions named).
 */
export interface CreateAppTokenInputs {
    readonly "client-id": string;
    readonly "private-key": string;
    readonly owner?: string;
    readonly repositories?: string;
    readonly "permission-contents"?: "read" | "write";
    readonly "permission-members"?: "read" | "write";
}
export const createAppToken = (o: StepOptions<CreateAppTokenInputs>) => step(pins.createAppToken, o);

export interface SlackInputs {
    readonly webhook: string;
    readonly "webhook-type": "incoming-webhook";
    readonly payload: string;
}
export const slack = (o: StepOptions<SlackInputs>) => step(pins.slack, o);
