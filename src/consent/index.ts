export { loadSubjects, type LatestConsent, type LoadedSubject } from './loadSubjects.js';
export { loadSubjectsAsOf, type SubjectAsOf } from './loadSubjectsAsOf.js';
export { SubjectLoader, type SubjectLoaderOptions } from './SubjectLoader.js';
export { recordConsent, UnknownSubscriberError, type ConsentRecord } from './recordConsent.js';
export { assertConsentBased } from './assertConsentBased.js';
export { NotConsentBasedError } from './NotConsentBasedError.js';
