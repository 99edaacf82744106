-- Argo CD health of a ramp.dev Experiment, from its phase.
local hs = {}
if obj.status == nil or obj.status.phase == nil or obj.status.phase == "" or obj.status.phase == "Pending" then
  hs.status = "Progressing"
  hs.message = "Experiment is pending"
  return hs
end
local phase = obj.status.phase
hs.message = obj.status.message
if phase == "Running" then
  hs.status = "Progressing"
elseif phase == "Successful" then
  hs.status = "Healthy"
elseif phase == "Failed" or phase == "Error" then
  hs.status = "Degraded"
elseif phase == "Inconclusive" then
  hs.status = "Unknown"
else
  hs.status = "Unknown"
  hs.message = "Unknown phase " .. phase
end
return hs
