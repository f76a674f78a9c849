import * as pulumi from "@pulumi/pulumi";

/**
 * Resource options every Actions secret needs.
 *
 * A replacement deletes first. GitHub's create is an upsert by name, so a replacement that keeps
 * the name (a changed environment of an environment secret, `pulumi up --replace`) would, created
 * before deleted, write the new value and then delete the secret, leaving none
 * (pulumi/pulumi-github#223, #250).
 *
 * Nothing is ignored. GitHub's timestamps are outputs, not inputs, so `ignoreChanges` cannot name
 * them, and there is no need: the provider (terraform-provider-github v6.13.0,
 * resource_github_actions_secret.go Read :245-252, util_diff.go diffSecret :83-105) keeps
 * `updatedAt` at its own last write and refreshes `remoteUpdatedAt` from GitHub. While the two
 * agree (nobody changed the secret elsewhere) a refresh reports nothing; when a value was changed
 * outside Pulumi they differ, and the next `pulumi up` writes the configured value back.
 */
export function actionsSecretOptions(parent: pulumi.Resource): pulumi.CustomResourceOptions {
    return { parent, deleteBeforeReplace: true };
}
