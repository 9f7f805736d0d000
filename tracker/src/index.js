// Entry point of build/tally.js.  Site owners paste:
//   <script defer data-domain="example.com" src="/tally.js"></script>
// and, to call tally() before the script has loaded:
//   <script>window.tally = window.tally || function () { (window.tally.q = window.tally.q || []).push(arguments) }</script>
import { init } from './tracker.js'

init(document.currentScript)
