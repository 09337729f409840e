// The engine's seeded PRNG lives in common/ (the extension's demo corpus draws from it too);
// re-exported here so that engine modules keep importing './rng'.
export { Rng } from '@common/rng';
