-- Argo CD health of a ramp.dev Rollout, from the phase and message the
-- controller writes (status.phase: Healthy, Progressing, Paused, Degraded).
local hs = {}

local function progressing(message)
  hs.status = "Progressing"
  hs.message = message
  return hs
end

if obj.status == nil then
  return progressing("Waiting for rollout spec update to be observed")
end

-- The controller has not seen the latest spec yet. An observedGeneration
-- that is not a number, or is ahead of the generation, counts as observed.
local observed = tonumber(obj.status.observedGeneration)
local generation = tonumber(obj.metadata.generation)
if observed ~= nil and generation ~= nil and observed < generation then
  return progressing("Waiting for rollout spec update to be observed")
end

-- With a workloadRef, the referenced workload's generation must be seen too.
if obj.spec.workloadRef ~= nil and obj.metadata.annotations ~= nil then
  local wanted = obj.metadata.annotations["rollout.ramp.dev/workload-generation"]
  if wanted ~= nil and tonumber(wanted) ~= tonumber(obj.status.workloadObservedGeneration) then
    return progressing("Waiting for rollout spec update to be observed")
  end
end

local phase = obj.status.phase
if phase == "Paused" then
  hs.status = "Suspended"
  hs.message = obj.status.message
  return hs
end
if phase == "Healthy" or phase == "Progressing" or phase == "Degraded" then
  hs.status = phase
  hs.message = obj.status.message
  return hs
end
return progressing("Waiting for the controller to compute the rollout's phase")
