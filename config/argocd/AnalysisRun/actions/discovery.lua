-- The actions Argo CD offers on a ramp.dev AnalysisRun.
local actions = {}
local done = false
if obj.status ~= nil then
  local phase = obj.status.phase
  done = phase == "Successful" or phase == "Failed" or phase == "Error" or phase == "Inconclusive"
end
actions["terminate"] = {["disabled"] = done or (obj.spec ~= nil and obj.spec.terminate == true)}
return actions
