// A container's identity as one string: the key of the container id caches (the directory's,
// and the stats decoding worker's, which is why this is its own module: the worker does not
// load the directory's database code).
export interface ContainerIdentityFields {
  host: string;
  runtime: string;
  external_id: string;
}

export function identityKey(identity: ContainerIdentityFields): string {
  return `${identity.host}\u0000${identity.runtime}\u0000${identity.external_id}`;
}
