// The x axis of the explorer's small SVG charts (token types, unit histogram), kept across redraws.
import { axisBottom, type ScaleLinear, type Selection } from 'd3';

/** Draws the axis along the chart's bottom edge (`y`), creating its group on the first draw. */
export function drawBottomAxis(svg: Selection<SVGSVGElement, unknown, null, undefined>, x: ScaleLinear<number, number>, y: number, ticks: number): void {
  svg
    .selectAll<SVGGElement, null>('g.x-axis')
    .data([null])
    .join('g')
    .attr('class', 'axis x-axis')
    .attr('transform', `translate(0,${y})`)
    .call(axisBottom(x).ticks(ticks));
}
