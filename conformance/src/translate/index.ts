export { crossCheck, type CrossField, type CrossFieldResult, type CrossResult } from './cross-framework.js';
export { formatCrossTable } from './format-cross.js';
export { PORT_TARGETS, type PortTarget } from '@normbridge/port';
