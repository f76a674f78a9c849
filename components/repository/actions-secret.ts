import * as pulumi from "@pulumi/pulumi";

/**
 * Resource options every Actions secret needs, for two known provider pitfalls:
 * - A changed value forces a replacement, and GitHub's create is an upsert: the default
 *   create-before-delete writes the new value, then deletes the secret by name, leaving none
 *   (pulumi/pulumi-github#223, #250). Deleting first keeps the new secret.
 * - GitHub bumps its own timestamps on every write, which the provider reports as drift on each
 *   refresh; the timestamps carry no configuration, so they are ignored.
 */
export function actionsSecretOptions(parent: pulumi.Resource): pulumi.CustomResourceOptions {
    return { parent, deleteBeforeReplace: true, ignoreChanges: ["updatedAt", "remoteUpdatedAt"] };
}
